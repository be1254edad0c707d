//+------------------------------------------------------------------+
//| Portable.mqh: the few macros that let eagate's MQL5 files also    |
//| compile as C++ in the verification harness (ea/harness/), so the  |
//| file that is tested is the file that ships.                       |
//|                                                                  |
//| In MetaEditor they are plain MQL5:                                |
//|   ARRAY_REF(uchar, data)       ->  uchar &data[]  (parameter)     |
//|   ARRAY(uchar, bytes)          ->  uchar bytes[]  (dynamic)       |
//|   STATIC_ARRAY(uchar, b, 64)   ->  uchar b[64]    (fixed size)    |
//| The harness (ea/harness/mql5compat.h) defines EAGATE_HARNESS and  |
//| its own versions of them.                                         |
//+------------------------------------------------------------------+
#ifndef EAGATE_PORTABLE_MQH
#define EAGATE_PORTABLE_MQH

#ifndef EAGATE_HARNESS
#define ARRAY_REF(T, name) T &name[]
#define ARRAY(T, name) T name[]
#define STATIC_ARRAY(T, name, n) T name[n]
#endif

#endif // EAGATE_PORTABLE_MQH
