// mql5compat.h: the MQL5 built-ins eagate's EA uses, emulated in C++17 by MQL5's documented
// semantics (not C++'s convenient ones), so the .mqh/.mq5 files that ship are compiled as they
// are, with g++ -std=c++17 -fsanitize=address,undefined, and run against a real server.
//
// ============================== CONVENTIONS (read before writing MQL5) =====================
// The shipped files are written in the subset of MQL5 that is also C++ under this header:
//
//  * Every .mqh first includes "Portable.mqh" (ea/MQL5/Include/Eagate/Portable.mqh): in
//    MetaEditor it defines the macros below as plain MQL5; here this header defines them.
//      ARRAY_REF(T, name)          parameter: T &name[]        (C++: MqlArray<T> &name)
//      const ARRAY_REF(T, name)    parameter: const T &name[]  (C++: const MqlArray<T> &name)
//      ARRAY(T, name)              local, global or member dynamic array: T name[]
//      STATIC_ARRAY(T, name, n)    fixed-size array: T name[n]
//    One array per declaration (no `uchar a[], b[];`). Arrays cannot be copied (as in MQL5):
//    pass them by ARRAY_REF, copy with ArrayCopy. Array initialisers ({1, 2}) are not used.
//  * string is MQL5's: UTF-16 (emoji are surrogate pairs), + concatenates, == compares.
//    Never add two literals ("a" + "b" is not C++) and never rely on adjacent literals
//    ("a" "b"): start with a string variable, or write one literal. No (string)x casts:
//    IntegerToString, DoubleToString, StringFormat.
//  * `input`/`sinput` are macros (empty here: drivers assign inputs before OnInit; MetaEditor
//    still refuses assignments to inputs). `#property` lines go inside `#ifdef __MQL5__`.
//  * datetime is a distinct type here (prints as a date, converts to and from long).
//  * `input` is an empty macro here: never name a C++ variable `input` in a driver or header
//    included after this one.
//  * Structs holding arrays or strings are passed by reference, never copied.
//  * Anything the MQL5 documentation does not pin down aborts with "not emulated: ...":
//    do not work around it, write code that does not depend on it.
//
// Emulated (sections below): types; MqlArray (dynamic: abort on out-of-range index, new
// elements filled with 0xA5; static: ArrayResize returns -1 and records a violation);
// Array*; String* / StringFormat / conversions; CryptEncode (SHA-256 via OpenSSL, base64);
// Math*; time (TimeGMT/TimeCurrent/TimeLocal on an injectable clock, TimeToString,
// TimeToStruct/StructToTime, GetTickCount, GetMicrosecondCount, Sleep); errors; Print/Alert/
// Comment (captured); Files (sandbox dir, FILE_TXT|FILE_ANSI or FILE_BIN, FILE_COMMON);
// WebRequest (7-argument form, plain HTTP to 127.0.0.1/localhost, allow-list: -1 + 4014);
// MQLInfoInteger, AccountInfoInteger (login only unless set), ChartID, EventSetTimer,
// ExpertRemove. Harness control (clock, sandbox, allow-list, captured output) is in
// namespace mql5h, for drivers only; shipped code never mentions it.
//
// Violations (ArrayResize on a static array, ...) are printed to stderr as "MQL5 VIOLATION"
// and make the process exit with status 86 at exit, whatever main returned.
//
// Additions: append new built-ins in a new clearly named section at the END of this file
// (or in another header), keeping each section self-contained.
// ==========================================================================================
#ifndef EAGATE_MQL5COMPAT_H
#define EAGATE_MQL5COMPAT_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#define EAGATE_HARNESS 1

// ----------------------------------------------------------------------------------------
// Section: fatal errors, violations
// ----------------------------------------------------------------------------------------
namespace mql5h {

[[noreturn]] inline void fatal(const std::string &what) {
  std::fprintf(stderr, "MQL5 CRITICAL: %s\n", what.c_str());
  std::fflush(stdout);
  std::fflush(stderr);
  std::abort();
}

[[noreturn]] inline void not_emulated(const std::string &what) {
  fatal("not emulated: " + what);
}

inline int &violation_count() {
  static int count = 0;
  return count;
}

inline void exit_on_violations() {
  if (violation_count() > 0) {
    std::fprintf(stderr, "MQL5 VIOLATIONS: %d (exit status 86)\n", violation_count());
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(86);
  }
}

inline void violation(const std::string &what) {
  static bool registered = false;
  if (!registered) {
    registered = true;
    std::atexit(exit_on_violations);
  }
  violation_count()++;
  std::fprintf(stderr, "MQL5 VIOLATION: %s\n", what.c_str());
}

}  // namespace mql5h

// ----------------------------------------------------------------------------------------
// Section: types
// ----------------------------------------------------------------------------------------
typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;  // 64-bit on LP64, as in MQL5
static_assert(sizeof(long) == 8, "MQL5 long is 64-bit: build on an LP64 platform");
typedef unsigned int color;

// MQL5's datetime: seconds since 1970, a distinct type (Print shows it as a date).
struct datetime {
  long v;
  datetime() = default;  // uninitialised, as an MQL5 local
  datetime(long x) : v(x) {}
  operator long() const { return v; }
  datetime &operator+=(long x) { v += x; return *this; }
  datetime &operator-=(long x) { v -= x; return *this; }
};

// ----------------------------------------------------------------------------------------
// Section: UTF-8 <-> UTF-16 (strict)
// ----------------------------------------------------------------------------------------
namespace mql5h {

// Decodes UTF-8; returns false on any invalid sequence.
inline bool utf8_to_utf16(const char *p, size_t n, std::u16string &out) {
  out.clear();
  size_t i = 0;
  while (i < n) {
    unsigned c = (unsigned char)p[i];
    unsigned cp;
    size_t len;
    if (c < 0x80) { cp = c; len = 1; }
    else if ((c & 0xE0) == 0xC0) { cp = c & 0x1F; len = 2; }
    else if ((c & 0xF0) == 0xE0) { cp = c & 0x0F; len = 3; }
    else if ((c & 0xF8) == 0xF0) { cp = c & 0x07; len = 4; }
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; k++) {
      unsigned cc = (unsigned char)p[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back((char16_t)(0xD800 + (cp >> 10)));
      out.push_back((char16_t)(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back((char16_t)cp);
    }
    i += len;
  }
  return true;
}

// Encodes UTF-16 as UTF-8; a lone surrogate is not something the documentation pins down.
inline std::string utf16_to_utf8(const std::u16string &s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    unsigned cp = s[i];
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (i + 1 >= s.size() || s[i + 1] < 0xDC00 || s[i + 1] > 0xDFFF)
        not_emulated("UTF-8 conversion of a lone high surrogate");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (s[i + 1] - 0xDC00);
      i++;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      not_emulated("UTF-8 conversion of a lone low surrogate");
    }
    if (cp < 0x80) {
      out.push_back((char)cp);
    } else if (cp < 0x800) {
      out.push_back((char)(0xC0 | (cp >> 6)));
      out.push_back((char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back((char)(0xE0 | (cp >> 12)));
      out.push_back((char)(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back((char)(0x80 | (cp & 0x3F)));
    } else {
      out.push_back((char)(0xF0 | (cp >> 18)));
      out.push_back((char)(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back((char)(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back((char)(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

}  // namespace mql5h

// ----------------------------------------------------------------------------------------
// Section: string (UTF-16)
// ----------------------------------------------------------------------------------------
class string {
 public:
  std::u16string u;  // the UTF-16 code units, as in the terminal

  string() {}
  // A literal in the source (UTF-8 here; MetaEditor reads the file's encoding). NULL -> "".
  string(const char *utf8) {
    if (utf8 != nullptr && !mql5h::utf8_to_utf16(utf8, std::strlen(utf8), u))
      mql5h::fatal("string literal is not valid UTF-8");
  }
  string(const string &) = default;
  string &operator=(const string &) = default;
  string(string &&) = default;
  string &operator=(string &&) = default;
  static string from_utf16(std::u16string s) {
    string r;
    r.u = std::move(s);
    return r;
  }
  std::string utf8() const { return mql5h::utf16_to_utf8(u); }

  string &operator+=(const string &o) { u += o.u; return *this; }
  friend string operator+(const string &a, const string &b) {
    string r = a;
    r.u += b.u;
    return r;
  }
  // Code unit for code unit, as u16string's ==, in one memcmp: the EA's linear look-ups
  // (its journal, thousands of ids) are not slowed by per-character calls at -O0.
  friend bool operator==(const string &a, const string &b) {
    return a.u.size() == b.u.size() &&
           std::memcmp(a.u.data(), b.u.data(), a.u.size() * sizeof(char16_t)) == 0;
  }
  friend bool operator!=(const string &a, const string &b) { return !(a == b); }
  friend bool operator<(const string &a, const string &b) { return a.u < b.u; }
  friend bool operator>(const string &a, const string &b) { return a.u > b.u; }
  friend bool operator<=(const string &a, const string &b) { return a.u <= b.u; }
  friend bool operator>=(const string &a, const string &b) { return a.u >= b.u; }
};

// ----------------------------------------------------------------------------------------
// Section: arrays
// ----------------------------------------------------------------------------------------
namespace mql5h {
struct Static {
  int n;
};
}  // namespace mql5h

// A one-dimensional MQL5 array. Dynamic unless built with mql5h::Static{n}.
template <class T>
class MqlArray {
 public:
  MqlArray() {}
  explicit MqlArray(mql5h::Static s) : is_static_(true) {
    if (s.n <= 0) mql5h::fatal("static array of size <= 0");
    grow_to(s.n);
  }
  MqlArray(const MqlArray &) = delete;  // MQL5 arrays cannot be copied: use ArrayCopy
  MqlArray &operator=(const MqlArray &) = delete;
  ~MqlArray() { release(); }

  T &operator[](long i) {
    check(i);
    return data_[i];
  }
  const T &operator[](long i) const {
    check(i);
    return data_[i];
  }
  int size() const { return size_; }
  bool is_static() const { return is_static_; }

  // Resizes a dynamic array; new elements are filled with 0xA5 bytes (then default-
  // initialised: strings are empty, plain numbers and struct fields keep the 0xA5 pattern).
  void resize_dynamic(int n) {
    if (n < size_) {
      for (int k = n; k < size_; k++) data_[k].~T();
      size_ = n;
    } else if (n > size_) {
      grow_to(n);
    }
  }
  void free_all() { release(); }

 private:
  void check(long i) const {
    if (i < 0 || i >= size_)
      mql5h::fatal("array out of range: index " + std::to_string(i) + ", size " +
                   std::to_string(size_));
  }
  void grow_to(int n) {
    if (n > capacity_) {
      // At least doubled (as std::vector): an array grown by one element at a time (the EA's
      // journal) is not copied whole each time. Elements past size_ are never reachable.
      size_t doubled = 2 * (size_t)capacity_;
      int wanted = doubled > (size_t)n && doubled <= (size_t)INT_MAX ? (int)doubled : n;
      T *fresh = static_cast<T *>(::operator new(sizeof(T) * (size_t)wanted));
      for (int k = 0; k < size_; k++) {
        new (fresh + k) T(std::move(data_[k]));
        data_[k].~T();
      }
      ::operator delete(data_);
      data_ = fresh;
      capacity_ = wanted;
    }
    for (int k = size_; k < n; k++) {
      std::memset(static_cast<void *>(data_ + k), 0xA5, sizeof(T));
      new (data_ + k) T;  // default-initialisation: fundamental types keep 0xA5
    }
    size_ = n;
  }
  void release() {
    for (int k = 0; k < size_; k++) data_[k].~T();
    ::operator delete(data_);
    data_ = nullptr;
    size_ = capacity_ = 0;
  }
  T *data_ = nullptr;
  int size_ = 0;
  int capacity_ = 0;
  bool is_static_ = false;
};

#define ARRAY_REF(T, name) MqlArray<T> &name
#define ARRAY(T, name) MqlArray<T> name
#define STATIC_ARRAY(T, name, n) MqlArray<T> name{mql5h::Static{(n)}}

#define WHOLE_ARRAY (-1)
#define EMPTY_VALUE DBL_MAX
#define INVALID_HANDLE (-1)

template <class T>
int ArraySize(const MqlArray<T> &a) { return a.size(); }
template <class T>
int ArrayRange(const MqlArray<T> &a, int dim) {
  if (dim != 0) mql5h::not_emulated("multi-dimensional arrays");
  return a.size();
}
template <class T>
bool ArrayIsDynamic(const MqlArray<T> &a) { return !a.is_static(); }

template <class T>
int ArrayResize(MqlArray<T> &a, int new_size, int reserve_size = 0) {
  (void)reserve_size;
  if (new_size < 0) mql5h::not_emulated("ArrayResize to a negative size");
  if (a.is_static()) {
    mql5h::violation("ArrayResize on a static array");
    return -1;
  }
  a.resize_dynamic(new_size);
  return new_size;
}

template <class T>
void ArrayFree(MqlArray<T> &a) {
  if (a.is_static()) mql5h::not_emulated("ArrayFree on a static array");
  a.free_all();
}

template <class T, class V>
int ArrayInitialize(MqlArray<T> &a, V value) {
  static_assert(std::is_arithmetic<T>::value, "ArrayInitialize takes numeric arrays");
  for (int i = 0; i < a.size(); i++) a[i] = (T)value;
  return a.size();
}

template <class T, class V>
void ArrayFill(MqlArray<T> &a, int start, int count, V value) {
  if (start < 0 || count < 0) mql5h::not_emulated("ArrayFill with a negative start or count");
  if (start + count > a.size()) {
    if (a.is_static()) mql5h::not_emulated("ArrayFill past the end of a static array");
    a.resize_dynamic(start + count);
  }
  for (int i = start; i < start + count; i++) a[i] = (T)value;
}

// ArrayCopy(dst, src, dst_start, src_start, count): count <= 0 (WHOLE_ARRAY) copies the whole
// rest of src; a dynamic dst grows as needed. Numeric arrays of different types convert.
template <class D, class S>
int ArrayCopy(MqlArray<D> &dst, const MqlArray<S> &src, int dst_start = 0, int src_start = 0,
              int count = WHOLE_ARRAY) {
  static_assert(std::is_same<D, S>::value ||
                    (std::is_arithmetic<D>::value && std::is_arithmetic<S>::value),
                "ArrayCopy between incompatible types");
  if (dst_start < 0 || src_start < 0) mql5h::not_emulated("ArrayCopy with a negative start");
  if (src_start > src.size())
    mql5h::not_emulated("ArrayCopy with src_start beyond the source's size");
  int rest = src.size() - src_start;
  int n = count <= 0 ? rest : count;
  if (n > rest) mql5h::not_emulated("ArrayCopy of more elements than the source holds");
  if ((const void *)&dst == (const void *)&src)
    mql5h::not_emulated("ArrayCopy of an array onto itself");
  if (dst_start + n > dst.size()) {
    if (dst.is_static()) {
      mql5h::violation("ArrayCopy past the end of a static array");
      return 0;
    }
    dst.resize_dynamic(dst_start + n);
  }
  for (int i = 0; i < n; i++) dst[dst_start + i] = (D)src[src_start + i];
  return n;
}

template <class T>
bool ArrayRemove(MqlArray<T> &a, int start, int count = WHOLE_ARRAY) {
  if (a.is_static()) mql5h::not_emulated("ArrayRemove on a static array");
  if (start < 0 || start > a.size()) mql5h::not_emulated("ArrayRemove with start out of range");
  int n = count < 0 ? a.size() - start : count;
  if (start + n > a.size()) mql5h::not_emulated("ArrayRemove past the end");
  for (int i = start; i + n < a.size(); i++) a[i] = std::move(a[i + n]);
  a.resize_dynamic(a.size() - n);
  return true;
}

// ----------------------------------------------------------------------------------------
// Section: errors
// ----------------------------------------------------------------------------------------
#define ERR_SUCCESS 0
#define ERR_INTERNAL_ERROR 4001
#define ERR_INVALID_PARAMETER 4003
#define ERR_NOT_ENOUGH_MEMORY 4004
#define ERR_FUNCTION_NOT_ALLOWED 4014
#define ERR_CANNOT_OPEN_FILE 5004
#define ERR_FILE_NOT_EXIST 5019
#define ERR_WEBREQUEST_INVALID_ADDRESS 5200
#define ERR_WEBREQUEST_CONNECT_FAILED 5201
#define ERR_WEBREQUEST_TIMEOUT 5202
#define ERR_WEBREQUEST_REQUEST_FAILED 5203
#define ERR_USER_ERROR_FIRST 65536

namespace mql5h {
inline int &last_error() {
  static int e = 0;
  return e;
}
}  // namespace mql5h

inline int GetLastError() { return mql5h::last_error(); }
inline void ResetLastError() { mql5h::last_error() = 0; }
inline void SetUserError(ushort code) { mql5h::last_error() = ERR_USER_ERROR_FIRST + code; }
#define _LastError (mql5h::last_error())

// ----------------------------------------------------------------------------------------
// Section: strings
// ----------------------------------------------------------------------------------------
#define CP_ACP 0
#define CP_UTF8 65001

namespace mql5h {
inline bool is_ascii(const std::u16string &s) {
  for (char16_t c : s)
    if (c >= 0x80) return false;
  return true;
}
inline void need_utf8_or_ascii(uint codepage, const std::u16string &s, const char *where) {
  if (codepage == CP_UTF8) return;
  if (codepage == CP_ACP && is_ascii(s)) return;
  not_emulated(std::string(where) + " with a code page other than CP_UTF8 (non-ASCII text)");
}
}  // namespace mql5h

inline int StringLen(const string &s) { return (int)s.u.size(); }

// Copies the text, converted to the code page, into array from start. With count WHOLE_ARRAY
// (-1) the terminating 0 is copied and counted too; returns the number of elements copied.
inline int StringToCharArray(const string &text, MqlArray<uchar> &array, int start = 0,
                             int count = WHOLE_ARRAY, uint codepage = CP_ACP) {
  if (count >= 0) mql5h::not_emulated("StringToCharArray with an explicit count");
  if (start < 0) mql5h::not_emulated("StringToCharArray with a negative start");
  std::string bytes;
  if (codepage == CP_UTF8) {
    bytes = text.utf8();
  } else if (codepage == CP_ACP && mql5h::is_ascii(text.u)) {
    bytes = text.utf8();
  } else {
    mql5h::not_emulated("StringToCharArray: code page other than CP_UTF8 with non-ASCII text");
  }
  size_t nul = bytes.find('\0');
  if (nul != std::string::npos) bytes.resize(nul);
  int n = (int)bytes.size() + 1;  // the terminating 0
  if (start + n > array.size()) {
    if (array.is_static()) {
      mql5h::violation("StringToCharArray past the end of a static array");
      return 0;
    }
    array.resize_dynamic(start + n);
  } else if (start + n < array.size() && !array.is_static()) {
    mql5h::not_emulated("StringToCharArray into a dynamic array longer than the result");
  }
  for (int i = 0; i < n - 1; i++) array[start + i] = (uchar)bytes[i];
  array[start + n - 1] = 0;
  return n;
}

// Converts count bytes (-1: to the end) from start; the text ends at a 0 byte.
inline string CharArrayToString(const MqlArray<uchar> &array, int start = 0, int count = -1,
                                uint codepage = CP_ACP) {
  if (start < 0 || start > array.size())
    mql5h::not_emulated("CharArrayToString with start out of range");
  int end = count < 0 ? array.size() : start + count;
  if (end > array.size()) mql5h::not_emulated("CharArrayToString past the end of the array");
  std::string bytes;
  for (int i = start; i < end && array[i] != 0; i++) bytes.push_back((char)array[i]);
  std::u16string u;
  if (!mql5h::utf8_to_utf16(bytes.data(), bytes.size(), u))
    mql5h::not_emulated("CharArrayToString of bytes that are not valid UTF-8");
  if (codepage != CP_UTF8 && !mql5h::is_ascii(u))
    mql5h::not_emulated("CharArrayToString: code page other than CP_UTF8 with non-ASCII bytes");
  return string::from_utf16(u);
}

inline string ShortToString(ushort c) {
  if (c == 0) return string();
  return string::from_utf16(std::u16string(1, (char16_t)c));
}
inline string CharToString(uchar c) {
  if (c >= 0x80) mql5h::not_emulated("CharToString of a non-ASCII byte");
  return ShortToString(c);
}
inline ushort StringGetCharacter(const string &s, int pos) {
  if (pos < 0 || pos >= StringLen(s)) mql5h::not_emulated("StringGetCharacter out of range");
  return (ushort)s.u[(size_t)pos];
}
inline bool StringSetCharacter(string &s, int pos, ushort c) {
  if (pos < 0 || pos >= StringLen(s) || c == 0)
    mql5h::not_emulated("StringSetCharacter out of range or with 0");
  s.u[(size_t)pos] = (char16_t)c;
  return true;
}

inline int StringFind(const string &s, const string &match, int start = 0) {
  if (match.u.empty()) mql5h::not_emulated("StringFind of an empty string");
  if (start < 0) mql5h::not_emulated("StringFind with a negative start");
  if ((size_t)start > s.u.size()) return -1;
  size_t at = s.u.find(match.u, (size_t)start);
  return at == std::u16string::npos ? -1 : (int)at;
}

inline string StringSubstr(const string &s, int start, int length = -1) {
  if (start < 0) mql5h::not_emulated("StringSubstr with a negative start");
  if ((size_t)start >= s.u.size()) return string();
  if (length < 0) return string::from_utf16(s.u.substr((size_t)start));
  return string::from_utf16(s.u.substr((size_t)start, (size_t)length));
}

inline int StringReplace(string &s, const string &find, const string &replacement) {
  if (find.u.empty()) mql5h::not_emulated("StringReplace of an empty string");
  int count = 0;
  std::u16string out;
  size_t pos = 0;
  for (;;) {
    size_t at = s.u.find(find.u, pos);
    if (at == std::u16string::npos) break;
    out += s.u.substr(pos, at - pos);
    out += replacement.u;
    pos = at + find.u.size();
    count++;
  }
  out += s.u.substr(pos);
  s.u = out;
  return count;
}

namespace mql5h {
inline bool trim_char(char16_t c) {
  if (c == u'\r') not_emulated("StringTrim of a CR at the edge");
  return c == u' ' || c == u'\t' || c == u'\n';
}
}  // namespace mql5h

inline int StringTrimLeft(string &s) {
  size_t n = 0;
  while (n < s.u.size() && mql5h::trim_char(s.u[n])) n++;
  s.u.erase(0, n);
  return (int)n;
}
inline int StringTrimRight(string &s) {
  size_t n = 0;
  while (n < s.u.size() && mql5h::trim_char(s.u[s.u.size() - 1 - n])) n++;
  s.u.resize(s.u.size() - n);
  return (int)n;
}

inline bool StringToUpper(string &s) {
  for (char16_t &c : s.u) {
    if (c >= 0x80) mql5h::not_emulated("StringToUpper of non-ASCII text");
    if (c >= u'a' && c <= u'z') c = (char16_t)(c - 32);
  }
  return true;
}
inline bool StringToLower(string &s) {
  for (char16_t &c : s.u) {
    if (c >= 0x80) mql5h::not_emulated("StringToLower of non-ASCII text");
    if (c >= u'A' && c <= u'Z') c = (char16_t)(c + 32);
  }
  return true;
}

// Splits at every separator character; "" gives 0 elements, "a," gives "a" and "".
inline int StringSplit(const string &s, ushort separator, MqlArray<string> &result) {
  if (result.is_static()) mql5h::not_emulated("StringSplit into a static array");
  if (s.u.empty()) mql5h::not_emulated("StringSplit of an empty string");
  std::vector<std::u16string> parts;
  size_t pos = 0;
  for (;;) {
    size_t at = s.u.find((char16_t)separator, pos);
    if (at == std::u16string::npos) {
      parts.push_back(s.u.substr(pos));
      break;
    }
    parts.push_back(s.u.substr(pos, at - pos));
    pos = at + 1;
  }
  result.resize_dynamic(0);
  result.resize_dynamic((int)parts.size());
  for (size_t i = 0; i < parts.size(); i++) result[(long)i] = string::from_utf16(parts[i]);
  return (int)parts.size();
}

inline int StringCompare(const string &a, const string &b, bool case_sensitive = true) {
  std::u16string x = a.u, y = b.u;
  if (!case_sensitive) {
    string la = a, lb = b;
    StringToLower(la);
    StringToLower(lb);
    x = la.u;
    y = lb.u;
  }
  return x < y ? -1 : (x == y ? 0 : 1);
}

inline string IntegerToString(long number, int str_len = 0, ushort fill_symbol = ' ') {
  std::string digits = std::to_string(number);
  string r(digits.c_str());
  if (str_len > StringLen(r)) r.u.insert(0, (size_t)(str_len - StringLen(r)), (char16_t)fill_symbol);
  return r;
}

inline string DoubleToString(double value, int digits = 8) {
  if (digits < 0 || digits > 16) mql5h::not_emulated("DoubleToString with digits outside 0..16");
  if (!std::isfinite(value)) mql5h::not_emulated("DoubleToString of a non-finite number");
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return string(buffer);
}

namespace mql5h {
inline std::string ascii_trimmed(const string &s, const char *where) {
  std::string t = s.utf8();
  size_t a = t.find_first_not_of(" \t");
  if (a == std::string::npos) return std::string();
  size_t b = t.find_last_not_of(" \t");
  t = t.substr(a, b - a + 1);
  for (char c : t)
    if ((unsigned char)c >= 0x80) not_emulated(std::string(where) + " of non-ASCII text");
  return t;
}
}  // namespace mql5h

// A decimal integer, optionally signed and surrounded by blanks; "" is 0. Anything else
// (trailing text, overflow) is not pinned down by the documentation.
inline long StringToInteger(const string &s) {
  std::string t = mql5h::ascii_trimmed(s, "StringToInteger");
  if (t.empty()) return 0;
  size_t i = (t[0] == '-' || t[0] == '+') ? 1 : 0;
  if (i == t.size()) mql5h::not_emulated("StringToInteger of \"" + t + "\"");
  for (size_t k = i; k < t.size(); k++)
    if (t[k] < '0' || t[k] > '9') mql5h::not_emulated("StringToInteger of \"" + t + "\"");
  errno = 0;
  long v = std::strtol(t.c_str(), nullptr, 10);
  if (errno == ERANGE) mql5h::not_emulated("StringToInteger overflow of \"" + t + "\"");
  return v;
}

// A decimal number ([sign] digits [. digits] [e [sign] digits]); "" is 0.
inline double StringToDouble(const string &s) {
  std::string t = mql5h::ascii_trimmed(s, "StringToDouble");
  if (t.empty()) return 0.0;
  size_t i = (t[0] == '-' || t[0] == '+') ? 1 : 0;
  size_t digits = 0;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') { i++; digits++; }
  if (i < t.size() && t[i] == '.') {
    i++;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') { i++; digits++; }
  }
  if (digits > 0 && i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    size_t j = i + 1;
    if (j < t.size() && (t[j] == '-' || t[j] == '+')) j++;
    size_t exp_digits = 0;
    while (j < t.size() && t[j] >= '0' && t[j] <= '9') { j++; exp_digits++; }
    if (exp_digits > 0) i = j;
  }
  if (digits == 0 || i != t.size()) mql5h::not_emulated("StringToDouble of \"" + t + "\"");
  double v = std::strtod(t.c_str(), nullptr);
  if (!std::isfinite(v)) mql5h::not_emulated("StringToDouble overflow of \"" + t + "\"");
  return v;
}

// StringFormat: printf-style, with MQL5's argument types. A 64-bit integer needs the ll or
// I64 size prefix unless its value fits 32 bits; a type that does not match the conversion,
// '*' widths and unknown conversions are not emulated.
namespace mql5h {
struct FmtArg {
  enum Kind { INT, DBL, STR } kind;
  long long i = 0;
  bool is_unsigned = false;
  int bits = 32;
  double d = 0;
  std::u16string s;
};
template <class T>
FmtArg fmt_arg(const T &v) {
  FmtArg a;
  if constexpr (std::is_same<T, string>::value) {
    a.kind = FmtArg::STR;
    a.s = v.u;
  } else if constexpr (std::is_same<T, datetime>::value) {
    a.kind = FmtArg::INT;
    a.i = v.v;
    a.bits = 64;
  } else if constexpr (std::is_floating_point<T>::value) {
    a.kind = FmtArg::DBL;
    a.d = v;
  } else if constexpr (std::is_integral<T>::value || std::is_enum<T>::value) {
    a.kind = FmtArg::INT;
    a.i = (long long)v;
    a.is_unsigned = std::is_unsigned<T>::value;
    a.bits = sizeof(T) > 4 ? 64 : 32;
  } else if constexpr (std::is_convertible<T, const char *>::value) {
    a.kind = FmtArg::STR;
    a.s = string(v).u;
  } else {
    static_assert(sizeof(T) == 0, "StringFormat: unsupported argument type");
  }
  return a;
}

inline std::u16string format(const std::u16string &f, const std::vector<FmtArg> &args) {
  std::u16string out;
  size_t next = 0;
  for (size_t i = 0; i < f.size(); i++) {
    if (f[i] != u'%') {
      out.push_back(f[i]);
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == u'%') {
      out.push_back(u'%');
      i++;
      continue;
    }
    std::string spec = "%";
    size_t j = i + 1;
    std::string flags;
    while (j < f.size() && std::strchr("-+ 0#", (char)f[j]) && f[j] < 0x80) flags += (char)f[j++];
    std::string width, precision;
    bool has_precision = false;
    while (j < f.size() && f[j] >= u'0' && f[j] <= u'9') width += (char)f[j++];
    if (j < f.size() && f[j] == u'*') not_emulated("StringFormat '*' width");
    if (j < f.size() && f[j] == u'.') {
      has_precision = true;
      j++;
      while (j < f.size() && f[j] >= u'0' && f[j] <= u'9') precision += (char)f[j++];
    }
    bool wide = false;
    if (j + 1 < f.size() && f[j] == u'l' && f[j + 1] == u'l') { wide = true; j += 2; }
    else if (j + 2 < f.size() && f[j] == u'I' && f[j + 1] == u'6' && f[j + 2] == u'4') { wide = true; j += 3; }
    else if (j + 2 < f.size() && f[j] == u'I' && f[j + 1] == u'3' && f[j + 2] == u'2') { j += 3; }
    else if (j < f.size() && (f[j] == u'h' || f[j] == u'l')) not_emulated("StringFormat h/l prefix");
    if (j >= f.size()) not_emulated("StringFormat: a format ending in '%'");
    char conv = (char)f[j];
    if (next >= args.size()) not_emulated("StringFormat with fewer arguments than conversions");
    const FmtArg &a = args[next++];
    std::string body = flags + width + (has_precision ? "." + precision : std::string());
    char buffer[1024];
    if (std::strchr("diuoxXc", conv) && conv != 0) {
      if (a.kind != FmtArg::INT) not_emulated(std::string("StringFormat %") + conv + " of a non-integer");
      if (!wide && a.bits == 64 && (a.i > INT32_MAX || a.i < INT32_MIN))
        not_emulated("StringFormat of a 64-bit value without ll/I64");
      if (conv == 'c') {
        if (!flags.empty() || !width.empty() || has_precision) not_emulated("StringFormat %c with flags");
        out.push_back((char16_t)a.i);
      } else if (wide) {
        std::snprintf(buffer, sizeof buffer, ("%" + body + "ll" + conv).c_str(), a.i);
        out += string(buffer).u;
      } else {
        std::snprintf(buffer, sizeof buffer, ("%" + body + conv).c_str(), (int)a.i);
        out += string(buffer).u;
      }
    } else if (std::strchr("feEgG", conv) && conv != 0) {
      if (a.kind != FmtArg::DBL) not_emulated(std::string("StringFormat %") + conv + " of a non-double");
      if (wide) not_emulated("StringFormat ll with a double");
      std::snprintf(buffer, sizeof buffer, ("%" + body + conv).c_str(), a.d);
      out += string(buffer).u;
    } else if (conv == 's') {
      if (a.kind != FmtArg::STR) not_emulated("StringFormat %s of a number");
      std::u16string v = a.s;
      if (has_precision) v = v.substr(0, (size_t)std::atoi(precision.c_str()));
      size_t w = width.empty() ? 0 : (size_t)std::atoi(width.c_str());
      if (flags.find_first_not_of("-") != std::string::npos) not_emulated("StringFormat %s flags");
      if (v.size() < w) {
        if (flags == "-") v.append(w - v.size(), u' ');
        else v.insert(0, w - v.size(), u' ');
      }
      out += v;
    } else {
      not_emulated(std::string("StringFormat conversion %") + conv);
    }
    i = j;
  }
  if (next != args.size()) not_emulated("StringFormat with more arguments than conversions");
  return out;
}
}  // namespace mql5h

template <class... A>
string StringFormat(const string &format, const A &...args) {
  std::vector<mql5h::FmtArg> list{mql5h::fmt_arg(args)...};
  return string::from_utf16(mql5h::format(format.u, list));
}

// ----------------------------------------------------------------------------------------
// Section: cryptography (CryptEncode)
// ----------------------------------------------------------------------------------------
enum ENUM_CRYPT_METHOD {
  CRYPT_BASE64 = 0,
  CRYPT_AES128 = 1,
  CRYPT_AES256 = 2,
  CRYPT_DES = 3,
  CRYPT_HASH_SHA1 = 4,
  CRYPT_HASH_SHA256 = 5,
  CRYPT_HASH_MD5 = 6,
  CRYPT_ARCH_ZIP = 7,
};

namespace mql5h {
inline void set_result(MqlArray<uchar> &result, const std::vector<uchar> &bytes) {
  if (result.is_static()) {
    if (result.size() < (int)bytes.size()) {
      violation("CryptEncode/Decode into a static array that is too small");
      return;
    }
    not_emulated("CryptEncode/Decode into a static array");
  }
  result.resize_dynamic(0);
  result.resize_dynamic((int)bytes.size());
  for (size_t i = 0; i < bytes.size(); i++) result[(long)i] = bytes[i];
}
}  // namespace mql5h

// Returns the number of bytes in result, 0 on error.
inline int CryptEncode(ENUM_CRYPT_METHOD method, const MqlArray<uchar> &data,
                       const MqlArray<uchar> &key, MqlArray<uchar> &result) {
  if (data.size() == 0) mql5h::not_emulated("CryptEncode of an empty array");
  std::vector<uchar> in((size_t)data.size());
  for (int i = 0; i < data.size(); i++) in[(size_t)i] = data[i];
  std::vector<uchar> out;
  if (method == CRYPT_HASH_SHA256) {
    if (key.size() != 0) mql5h::not_emulated("CryptEncode(CRYPT_HASH_SHA256) with a key");
    out.resize(32);
    SHA256(in.data(), in.size(), out.data());
  } else if (method == CRYPT_BASE64) {
    if (key.size() != 0) mql5h::not_emulated("CryptEncode(CRYPT_BASE64) with a key");
    static const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < in.size(); i += 3) {
      unsigned v = (unsigned)in[i] << 16;
      if (i + 1 < in.size()) v |= (unsigned)in[i + 1] << 8;
      if (i + 2 < in.size()) v |= in[i + 2];
      out.push_back((uchar)alphabet[(v >> 18) & 63]);
      out.push_back((uchar)alphabet[(v >> 12) & 63]);
      out.push_back(i + 1 < in.size() ? (uchar)alphabet[(v >> 6) & 63] : (uchar)'=');
      out.push_back(i + 2 < in.size() ? (uchar)alphabet[v & 63] : (uchar)'=');
    }
  } else {
    mql5h::not_emulated("CryptEncode method " + std::to_string((int)method));
  }
  mql5h::set_result(result, out);
  return (int)out.size();
}

// ----------------------------------------------------------------------------------------
// Section: math
// ----------------------------------------------------------------------------------------
template <class A, class B>
auto MathMax(A a, B b) -> typename std::common_type<A, B>::type { return a > b ? a : b; }
template <class A, class B>
auto MathMin(A a, B b) -> typename std::common_type<A, B>::type { return a < b ? a : b; }
template <class A>
A MathAbs(A a) { return a < 0 ? -a : a; }
inline double MathPow(double b, double e) { return std::pow(b, e); }
inline double MathFloor(double x) { return std::floor(x); }
inline double MathCeil(double x) { return std::ceil(x); }
inline double MathRound(double x) { return std::round(x); }  // half away from zero
inline double MathSqrt(double x) { return std::sqrt(x); }
inline double MathLog(double x) { return std::log(x); }
inline double MathMod(double a, double b) { return std::fmod(a, b); }
inline bool MathIsValidNumber(double x) { return std::isfinite(x); }
inline double NormalizeDouble(double value, int digits) {
  if (digits < 0 || digits > 8) mql5h::not_emulated("NormalizeDouble with digits outside 0..8");
  double scale = std::pow(10.0, digits);
  return std::round(value * scale) / scale;
}

namespace mql5h {
inline unsigned &rand_state() {
  static unsigned s = 1;
  return s;
}
}  // namespace mql5h
// 0..32767 (the documented range; the generator itself is this harness's own).
inline int MathRand() {
  mql5h::rand_state() = mql5h::rand_state() * 214013u + 2531011u;
  return (int)((mql5h::rand_state() >> 16) & 0x7FFF);
}
inline void MathSrand(uint seed) { mql5h::rand_state() = seed; }

// ----------------------------------------------------------------------------------------
// Section: time (injectable clock)
// ----------------------------------------------------------------------------------------
namespace mql5h {
struct Clock {
  bool fixed = false;       // TimeGMT() returns `gmt` (moved by advance()) when fixed
  long gmt = 0;
  long skew = 0;            // added to the PC clock when not fixed: a PC clock that is off
  long broker_offset = 0;   // TimeCurrent() - TimeGMT() (the broker's time zone)
  long local_offset = 0;    // TimeLocal() - TimeGMT()
};
inline Clock &clock() {
  static Clock c;
  return c;
}
inline void set_gmt(long t) { clock().fixed = true; clock().gmt = t; }
inline void advance(long seconds) { clock().gmt += seconds; }
inline void set_skew(long seconds) { clock().fixed = false; clock().skew = seconds; }
inline std::chrono::steady_clock::time_point start_time() {
  static auto t = std::chrono::steady_clock::now();
  return t;
}
}  // namespace mql5h

inline datetime TimeGMT() {
  if (mql5h::clock().fixed) return datetime(mql5h::clock().gmt);
  return datetime((long)std::time(nullptr) + mql5h::clock().skew);
}
inline datetime TimeCurrent() { return datetime((long)TimeGMT() + mql5h::clock().broker_offset); }
inline datetime TimeLocal() { return datetime((long)TimeGMT() + mql5h::clock().local_offset); }
inline datetime TimeTradeServer() { return TimeCurrent(); }

inline uint GetTickCount() {
  return (uint)std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now() - mql5h::start_time()).count();
}
inline ulong GetTickCount64() {
  return (ulong)std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now() - mql5h::start_time()).count();
}
inline ulong GetMicrosecondCount() {
  return (ulong)std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now() - mql5h::start_time()).count();
}
inline void Sleep(int milliseconds) {
  if (milliseconds < 0) mql5h::not_emulated("Sleep with a negative time");
  std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
  if (mql5h::clock().fixed) mql5h::clock().gmt += milliseconds / 1000;
}

struct MqlDateTime {
  int year;
  int mon;
  int day;
  int hour;
  int min;
  int sec;
  int day_of_week;
  int day_of_year;
};

inline bool TimeToStruct(datetime t, MqlDateTime &dt) {
  time_t v = (time_t)(long)t;
  if ((long)t < 0) mql5h::not_emulated("TimeToStruct of a negative time");
  struct tm tm;
  gmtime_r(&v, &tm);
  dt.year = tm.tm_year + 1900;
  dt.mon = tm.tm_mon + 1;
  dt.day = tm.tm_mday;
  dt.hour = tm.tm_hour;
  dt.min = tm.tm_min;
  dt.sec = tm.tm_sec;
  dt.day_of_week = tm.tm_wday;
  dt.day_of_year = tm.tm_yday;
  return true;
}

inline datetime StructToTime(MqlDateTime &dt) {
  if (dt.year < 1970 || dt.year > 3000 || dt.mon < 1 || dt.mon > 12 || dt.day < 1 ||
      dt.day > 31 || dt.hour < 0 || dt.hour > 23 || dt.min < 0 || dt.min > 59 || dt.sec < 0 ||
      dt.sec > 59)
    mql5h::not_emulated("StructToTime of out-of-range fields");
  struct tm tm = {};
  tm.tm_year = dt.year - 1900;
  tm.tm_mon = dt.mon - 1;
  tm.tm_mday = dt.day;
  tm.tm_hour = dt.hour;
  tm.tm_min = dt.min;
  tm.tm_sec = dt.sec;
  time_t v = timegm(&tm);
  struct tm back;
  gmtime_r(&v, &back);
  if (back.tm_mday != dt.day) mql5h::not_emulated("StructToTime of a day the month lacks");
  return datetime((long)v);
}

#define TIME_DATE 1
#define TIME_MINUTES 2
#define TIME_SECONDS 4

inline string TimeToString(datetime t, int mode = TIME_DATE | TIME_MINUTES) {
  MqlDateTime dt;
  TimeToStruct(t, dt);
  char buffer[64] = "";
  std::string out;
  if (mode & TIME_DATE) {
    std::snprintf(buffer, sizeof buffer, "%04d.%02d.%02d", dt.year, dt.mon, dt.day);
    out += buffer;
  }
  if (mode & (TIME_MINUTES | TIME_SECONDS)) {
    if (!out.empty()) out += " ";
    if (mode & TIME_SECONDS) std::snprintf(buffer, sizeof buffer, "%02d:%02d:%02d", dt.hour, dt.min, dt.sec);
    else std::snprintf(buffer, sizeof buffer, "%02d:%02d", dt.hour, dt.min);
    out += buffer;
  }
  return string(out.c_str());
}

// ----------------------------------------------------------------------------------------
// Section: Print, Alert, Comment (captured)
// ----------------------------------------------------------------------------------------
namespace mql5h {
struct Output {
  std::vector<std::string> printed;
  std::vector<std::string> alerts;
  std::string comment;
  bool echo = true;  // also write to stdout as "PRINT: ...", "ALERT: ...", "COMMENT: ..."
};
inline Output &output() {
  static Output o;
  return o;
}
template <class T>
void append_text(std::string &out, const T &v) {
  if constexpr (std::is_same<T, string>::value) out += v.utf8();
  else if constexpr (std::is_same<T, datetime>::value) out += TimeToString(v, TIME_DATE | TIME_SECONDS).utf8();
  else if constexpr (std::is_same<T, bool>::value) out += v ? "true" : "false";
  else if constexpr (std::is_floating_point<T>::value) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.16g", (double)v);
    out += buffer;
  } else if constexpr (std::is_integral<T>::value || std::is_enum<T>::value) {
    if constexpr (std::is_unsigned<T>::value) out += std::to_string((unsigned long long)v);
    else out += std::to_string((long long)v);
  } else if constexpr (std::is_convertible<T, const char *>::value) out += string(v).utf8();
  else static_assert(sizeof(T) == 0, "Print: unsupported argument type");
}
template <class... A>
std::string concat(const A &...args) {
  std::string out;
  (append_text(out, args), ...);
  return out;
}
}  // namespace mql5h

template <class... A>
void Print(const A &...args) {
  std::string line = mql5h::concat(args...);
  mql5h::output().printed.push_back(line);
  if (mql5h::output().echo) {
    std::printf("PRINT: %s\n", line.c_str());
    std::fflush(stdout);
  }
}
template <class... A>
void Alert(const A &...args) {
  std::string line = mql5h::concat(args...);
  mql5h::output().alerts.push_back(line);
  if (mql5h::output().echo) {
    std::printf("ALERT: %s\n", line.c_str());
    std::fflush(stdout);
  }
}
template <class... A>
void Comment(const A &...args) {
  std::string line = mql5h::concat(args...);
  if (line != mql5h::output().comment && mql5h::output().echo) {
    std::printf("COMMENT: %s\n", line.c_str());
    std::fflush(stdout);
  }
  mql5h::output().comment = line;
}

// ----------------------------------------------------------------------------------------
// Section: program, account, chart, events
// ----------------------------------------------------------------------------------------
enum ENUM_MQL_INFO_INTEGER {
  MQL_PROGRAM_TYPE = 2,
  MQL_DLLS_ALLOWED = 3,
  MQL_TRADE_ALLOWED = 4,
  MQL_SIGNALS_ALLOWED = 5,
  MQL_DEBUG = 6,
  MQL_PROFILER = 7,
  MQL_TESTER = 8,
  MQL_OPTIMIZATION = 9,
  MQL_VISUAL_MODE = 10,
  MQL_FRAME_MODE = 11,
  MQL_FORWARD = 12,
};
enum ENUM_ACCOUNT_INFO_INTEGER {
  ACCOUNT_LOGIN = 0,
  ACCOUNT_TRADE_MODE = 32,
  ACCOUNT_LEVERAGE = 35,
  ACCOUNT_LIMIT_ORDERS = 47,
  ACCOUNT_MARGIN_SO_MODE = 44,
  ACCOUNT_TRADE_ALLOWED = 33,
  ACCOUNT_TRADE_EXPERT = 34,
  ACCOUNT_MARGIN_MODE = 48,
  ACCOUNT_CURRENCY_DIGITS = 49,
  ACCOUNT_FIFO_CLOSE = 50,
  ACCOUNT_HEDGE_ALLOWED = 51,
};
enum ENUM_INIT_RETCODE {
  INIT_SUCCEEDED = 0,
  INIT_FAILED = 1,
  INIT_PARAMETERS_INCORRECT = 32767,
  INIT_AGENT_NOT_SUITABLE = 32768,
};
#define REASON_PROGRAM 0
#define REASON_REMOVE 1
#define REASON_RECOMPILE 2
#define REASON_CHARTCHANGE 3
#define REASON_CHARTCLOSE 4
#define REASON_PARAMETERS 5
#define REASON_ACCOUNT 6
#define REASON_TEMPLATE 7
#define REASON_INITFAILED 8
#define REASON_CLOSE 9

namespace mql5h {
struct Program {
  std::map<int, long> mql_info{{MQL_TESTER, 0}, {MQL_OPTIMIZATION, 0}, {MQL_VISUAL_MODE, 0},
                               {MQL_DEBUG, 0},  {MQL_TRADE_ALLOWED, 1}, {MQL_DLLS_ALLOWED, 0},
                               {MQL_FORWARD, 0}, {MQL_PROFILER, 0}, {MQL_FRAME_MODE, 0}};
  std::map<int, long> account_integer{{ACCOUNT_LOGIN, 5012345}};
  long chart_id = 133246521347658624;
  int timer_seconds = 0;       // 0: no timer
  int timer_milliseconds = 0;  // EventSetMillisecondTimer
  bool expert_removed = false;
};
inline Program &program() {
  static Program p;
  return p;
}
}  // namespace mql5h

inline long MQLInfoInteger(ENUM_MQL_INFO_INTEGER property) {
  auto it = mql5h::program().mql_info.find((int)property);
  if (it == mql5h::program().mql_info.end())
    mql5h::not_emulated("MQLInfoInteger property " + std::to_string((int)property));
  return it->second;
}
inline long AccountInfoInteger(ENUM_ACCOUNT_INFO_INTEGER property) {
  auto it = mql5h::program().account_integer.find((int)property);
  if (it == mql5h::program().account_integer.end())
    mql5h::not_emulated("AccountInfoInteger property " + std::to_string((int)property));
  return it->second;
}
inline long ChartID() { return mql5h::program().chart_id; }
inline void ChartRedraw(long chart_id = 0) { (void)chart_id; }
inline bool EventSetTimer(int seconds) {
  if (seconds <= 0) mql5h::not_emulated("EventSetTimer with seconds <= 0");
  mql5h::program().timer_seconds = seconds;
  mql5h::program().timer_milliseconds = 0;
  return true;
}
inline bool EventSetMillisecondTimer(int milliseconds) {
  if (milliseconds <= 0) mql5h::not_emulated("EventSetMillisecondTimer with milliseconds <= 0");
  mql5h::program().timer_milliseconds = milliseconds;
  mql5h::program().timer_seconds = 0;
  return true;
}
inline void EventKillTimer() {
  mql5h::program().timer_seconds = 0;
  mql5h::program().timer_milliseconds = 0;
}
inline void ExpertRemove() { mql5h::program().expert_removed = true; }
inline bool IsStopped() { return mql5h::program().expert_removed; }

// ----------------------------------------------------------------------------------------
// Section: files (a sandbox directory chosen by the driver)
// ----------------------------------------------------------------------------------------
#define FILE_READ 1
#define FILE_WRITE 2
#define FILE_BIN 4
#define FILE_CSV 8
#define FILE_TXT 16
#define FILE_ANSI 32
#define FILE_UNICODE 64
#define FILE_SHARE_READ 128
#define FILE_SHARE_WRITE 256
#define FILE_REWRITE 512
#define FILE_COMMON 4096
#define CHAR_VALUE 1
#define SHORT_VALUE 2
#define INT_VALUE 4
#define ERR_FILE_IS_DIRECTORY 5018
// SEEK_SET (0), SEEK_CUR (1), SEEK_END (2): MQL5 uses C's names and values.

namespace mql5h {
struct OpenFile {
  FILE *f = nullptr;
  int flags = 0;
  uint codepage = CP_ACP;
};
struct Files {
  std::string local_dir;   // <sandbox>/MQL5/Files
  std::string common_dir;  // <sandbox>/Common/Files
  std::map<int, OpenFile> open;
  int next_handle = 1;
};
inline Files &files() {
  static Files f;
  return f;
}
inline void make_dirs(const std::string &path) {
  for (size_t at = 1; at <= path.size(); at++) {
    if (at == path.size() || path[at] == '/') {
      std::string part = path.substr(0, at);
      if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) fatal("cannot create " + part);
    }
  }
}
// The driver chooses the sandbox (a temporary directory); MQL5_SANDBOX is the fallback.
inline void set_sandbox(const std::string &dir) {
  files().local_dir = dir + "/MQL5/Files";
  files().common_dir = dir + "/Common/Files";
  make_dirs(files().local_dir);
  make_dirs(files().common_dir);
}
// Path of a file name in the sandbox, "" for a name MQL5 refuses ("..", absolute, ':').
inline std::string sandbox_path(const string &name, bool common) {
  if (files().local_dir.empty()) {
    const char *env = std::getenv("MQL5_SANDBOX");
    if (env == nullptr || *env == 0) fatal("no file sandbox: call mql5h::set_sandbox(dir)");
    set_sandbox(env);
  }
  std::string n = name.utf8();
  std::replace(n.begin(), n.end(), '\\', '/');
  if (n.empty() || n[0] == '/' || n.find(':') != std::string::npos ||
      n.find("..") != std::string::npos || n.back() == '/')
    return std::string();
  return (common ? files().common_dir : files().local_dir) + "/" + n;
}
inline OpenFile &open_file(int handle, const char *where) {
  auto it = files().open.find(handle);
  if (it == files().open.end())
    not_emulated(std::string(where) + " with a handle that is not open");
  return it->second;
}
inline bool read_line(OpenFile &file, std::string &line) {
  line.clear();
  for (;;) {
    int c = std::fgetc(file.f);
    if (c == EOF) return !line.empty();
    if (c == '\r') {
      int d = std::fgetc(file.f);
      if (d == '\n') return true;
      not_emulated("a text file line ending other than CR LF");
    }
    if (c == '\n') not_emulated("a text file line ending other than CR LF");
    line.push_back((char)c);
  }
}
}  // namespace mql5h

// FILE_TXT|FILE_ANSI (codepage CP_UTF8, or ASCII text with CP_ACP) or FILE_BIN; FILE_WRITE
// alone empties the file; FILE_READ alone needs it to exist; FILE_READ|FILE_WRITE keeps it.
inline int FileOpen(const string &name, int flags, short delimiter = '\t', uint codepage = CP_ACP) {
  (void)delimiter;
  int kinds = ((flags & FILE_BIN) ? 1 : 0) + ((flags & FILE_TXT) ? 1 : 0) + ((flags & FILE_CSV) ? 1 : 0);
  if (kinds != 1 || (flags & FILE_CSV)) mql5h::not_emulated("FileOpen without exactly one of FILE_TXT, FILE_BIN");
  if ((flags & FILE_TXT) && !(flags & FILE_ANSI)) mql5h::not_emulated("FileOpen of a FILE_UNICODE text file");
  if (!(flags & (FILE_READ | FILE_WRITE))) mql5h::not_emulated("FileOpen without FILE_READ or FILE_WRITE");
  if (codepage != CP_ACP && codepage != CP_UTF8) mql5h::not_emulated("FileOpen code page");
  std::string path = mql5h::sandbox_path(name, (flags & FILE_COMMON) != 0);
  if (path.empty()) {
    mql5h::last_error() = ERR_CANNOT_OPEN_FILE;
    return INVALID_HANDLE;
  }
  if (flags & FILE_WRITE) mql5h::make_dirs(path.substr(0, path.rfind('/')));
  struct stat st;
  bool exists = ::stat(path.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) {
    mql5h::last_error() = ERR_CANNOT_OPEN_FILE;
    return INVALID_HANDLE;
  }
  const char *mode;
  if ((flags & FILE_READ) && (flags & FILE_WRITE)) mode = exists ? "r+b" : "w+b";
  else if (flags & FILE_WRITE) mode = "wb";
  else mode = "rb";
  FILE *f = std::fopen(path.c_str(), mode);
  if (f == nullptr) {
    mql5h::last_error() = ERR_CANNOT_OPEN_FILE;
    return INVALID_HANDLE;
  }
  int handle = mql5h::files().next_handle++;
  mql5h::files().open[handle] = mql5h::OpenFile{f, flags, codepage};
  return handle;
}

inline void FileClose(int handle) {
  mql5h::OpenFile &file = mql5h::open_file(handle, "FileClose");
  std::fclose(file.f);
  mql5h::files().open.erase(handle);
}
inline void FileFlush(int handle) { std::fflush(mql5h::open_file(handle, "FileFlush").f); }

// Writes the text (no line end); returns the number of bytes written.
inline uint FileWriteString(int handle, const string &text, int length = -1) {
  mql5h::OpenFile &file = mql5h::open_file(handle, "FileWriteString");
  if (!(file.flags & FILE_WRITE)) mql5h::not_emulated("FileWriteString to a file not open for writing");
  if (!(file.flags & FILE_ANSI)) mql5h::not_emulated("FileWriteString without FILE_ANSI");
  if (length != -1) mql5h::not_emulated("FileWriteString with a length");
  mql5h::need_utf8_or_ascii(file.codepage, text.u, "FileWriteString");
  std::string bytes = text.utf8();
  std::fwrite(bytes.data(), 1, bytes.size(), file.f);
  return (uint)bytes.size();
}

// FILE_TXT: one string argument, written with a CR LF line end.
template <class... A>
uint FileWrite(int handle, const A &...args) {
  static_assert(sizeof...(A) == 1, "FileWrite: one argument (more are not emulated)");
  mql5h::OpenFile &file = mql5h::open_file(handle, "FileWrite");
  if (!(file.flags & FILE_TXT)) mql5h::not_emulated("FileWrite to a file that is not FILE_TXT");
  string line(mql5h::concat(args...).c_str());
  return FileWriteString(handle, line + "\r\n");
}

// FILE_TXT: the next line without its CR LF; "" at the end of the file.
inline string FileReadString(int handle, int length = -1) {
  mql5h::OpenFile &file = mql5h::open_file(handle, "FileReadString");
  if (!(file.flags & FILE_TXT) || length != -1) mql5h::not_emulated("FileReadString outside FILE_TXT lines");
  if (!(file.flags & FILE_READ)) mql5h::not_emulated("FileReadString from a file not open for reading");
  std::string line;
  mql5h::read_line(file, line);
  std::u16string u;
  if (!mql5h::utf8_to_utf16(line.data(), line.size(), u))
    mql5h::not_emulated("FileReadString of bytes that are not valid UTF-8");
  if (file.codepage != CP_UTF8 && !mql5h::is_ascii(u)) mql5h::not_emulated("FileReadString of non-ASCII with CP_ACP");
  return string::from_utf16(u);
}

inline bool FileIsEnding(int handle) {
  mql5h::OpenFile &file = mql5h::open_file(handle, "FileIsEnding");
  int c = std::fgetc(file.f);
  if (c == EOF) return true;
  std::ungetc(c, file.f);
  return false;
}

namespace mql5h {
template <class T>
uint write_binary(int handle, T value, const char *where) {
  OpenFile &file = open_file(handle, where);
  if (!(file.flags & FILE_BIN) || !(file.flags & FILE_WRITE)) not_emulated(std::string(where) + " outside a FILE_BIN file open for writing");
  return (uint)std::fwrite(&value, 1, sizeof value, file.f);  // little-endian, as on x86
}
template <class T>
T read_binary(int handle, const char *where) {
  OpenFile &file = open_file(handle, where);
  if (!(file.flags & FILE_BIN) || !(file.flags & FILE_READ)) not_emulated(std::string(where) + " outside a FILE_BIN file open for reading");
  T value{};
  if (std::fread(&value, 1, sizeof value, file.f) != sizeof value) not_emulated(std::string(where) + " past the end of the file");
  return value;
}
}  // namespace mql5h

inline uint FileWriteInteger(int handle, int value, int size = INT_VALUE) {
  if (size != INT_VALUE) mql5h::not_emulated("FileWriteInteger with a size other than INT_VALUE");
  return mql5h::write_binary<int>(handle, value, "FileWriteInteger");
}
inline int FileReadInteger(int handle, int size = INT_VALUE) {
  if (size != INT_VALUE) mql5h::not_emulated("FileReadInteger with a size other than INT_VALUE");
  return mql5h::read_binary<int>(handle, "FileReadInteger");
}
inline uint FileWriteLong(int handle, long value) { return mql5h::write_binary<long>(handle, value, "FileWriteLong"); }
inline long FileReadLong(int handle) { return mql5h::read_binary<long>(handle, "FileReadLong"); }
inline uint FileWriteDouble(int handle, double value) { return mql5h::write_binary<double>(handle, value, "FileWriteDouble"); }
inline double FileReadDouble(int handle) { return mql5h::read_binary<double>(handle, "FileReadDouble"); }

inline ulong FileSize(int handle) {
  mql5h::OpenFile &file = mql5h::open_file(handle, "FileSize");
  std::fflush(file.f);
  struct stat st;
  if (::fstat(fileno(file.f), &st) != 0) mql5h::fatal("fstat failed");
  return (ulong)st.st_size;
}
inline ulong FileTell(int handle) { return (ulong)std::ftell(mql5h::open_file(handle, "FileTell").f); }
inline bool FileSeek(int handle, long offset, int origin) {
  if (origin != SEEK_SET && origin != SEEK_CUR && origin != SEEK_END) mql5h::not_emulated("FileSeek origin");
  return std::fseek(mql5h::open_file(handle, "FileSeek").f, offset, origin) == 0;
}

inline bool FileIsExist(const string &name, int common_flag = 0) {
  std::string path = mql5h::sandbox_path(name, (common_flag & FILE_COMMON) != 0);
  struct stat st;
  if (path.empty() || ::stat(path.c_str(), &st) != 0) {
    mql5h::last_error() = ERR_FILE_NOT_EXIST;
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    mql5h::last_error() = ERR_FILE_IS_DIRECTORY;
    return false;
  }
  return true;
}
inline bool FileDelete(const string &name, int common_flag = 0) {
  std::string path = mql5h::sandbox_path(name, (common_flag & FILE_COMMON) != 0);
  if (path.empty() || ::unlink(path.c_str()) != 0) {
    mql5h::last_error() = ERR_FILE_NOT_EXIST;
    return false;
  }
  return true;
}
// Renames atomically; an existing destination needs FILE_REWRITE in mode_flags.
inline bool FileMove(const string &src, int common_flag, const string &dst, int mode_flags) {
  std::string from = mql5h::sandbox_path(src, (common_flag & FILE_COMMON) != 0);
  std::string to = mql5h::sandbox_path(dst, (mode_flags & FILE_COMMON) != 0);
  struct stat st;
  if (from.empty() || to.empty() || ::stat(from.c_str(), &st) != 0) {
    mql5h::last_error() = ERR_FILE_NOT_EXIST;
    return false;
  }
  if (::stat(to.c_str(), &st) == 0 && !(mode_flags & FILE_REWRITE)) {
    mql5h::last_error() = ERR_CANNOT_OPEN_FILE;
    return false;
  }
  mql5h::make_dirs(to.substr(0, to.rfind('/')));
  if (std::rename(from.c_str(), to.c_str()) != 0) mql5h::fatal("rename failed");
  return true;
}

// ----------------------------------------------------------------------------------------
// Section: WebRequest (plain HTTP to 127.0.0.1 / localhost, with the terminal's allow-list)
// ----------------------------------------------------------------------------------------
namespace mql5h {
struct Url {
  std::string scheme, host, target;
  int port = 0;
};
// scheme://host[:port][/path?query]; false if it is not such a URL.
inline bool parse_url(const std::string &url, Url &out) {
  size_t sep = url.find("://");
  if (sep == std::string::npos) return false;
  out.scheme = url.substr(0, sep);
  std::transform(out.scheme.begin(), out.scheme.end(), out.scheme.begin(), ::tolower);
  if (out.scheme != "http" && out.scheme != "https") return false;
  size_t host_start = sep + 3;
  size_t slash = url.find_first_of("/?#", host_start);
  std::string authority = url.substr(host_start, slash == std::string::npos ? std::string::npos : slash - host_start);
  out.target = slash == std::string::npos ? "/" : url.substr(slash);
  if (!out.target.empty() && out.target[0] != '/') return false;
  if (out.target.find('#') != std::string::npos) return false;
  size_t colon = authority.rfind(':');
  out.port = out.scheme == "https" ? 443 : 80;
  if (colon != std::string::npos) {
    std::string port = authority.substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5) return false;
    out.port = std::atoi(port.c_str());
    authority = authority.substr(0, colon);
  }
  std::transform(authority.begin(), authority.end(), authority.begin(), ::tolower);
  out.host = authority;
  return !out.host.empty() && out.host.find('@') == std::string::npos;
}
struct Net {
  std::vector<std::string> allowed;  // Tools > Options > Expert Advisors > Allow WebRequest
  std::vector<std::string> log;      // "METHOD url -> status" per call
  int answered = 0;                  // requests that returned an HTTP status
  // The trader removes the EA while this answered request was in flight (0: never): the
  // terminal raises the stop flag (IsStopped() true), the running handler goes on to its end.
  int remove_after_answer = 0;
};
inline Net &net() {
  static Net n;
  return n;
}
inline void allow_url(const std::string &url) { net().allowed.push_back(url); }
inline bool url_allowed(const Url &u) {
  for (const std::string &entry : net().allowed) {
    Url a;
    if (parse_url(entry, a) && a.scheme == u.scheme && a.host == u.host && a.port == u.port) return true;
  }
  return false;
}
inline long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}
// Sends request, reads until the server closes; 0 ok, else an MQL5 error code.
inline int http_exchange(const Url &u, const std::string &request, int timeout_ms, std::string &response) {
  long long deadline = now_ms() + timeout_ms;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fatal("socket failed");
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)u.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto wait_for = [&](short events) -> int {
    long long left = deadline - now_ms();
    if (left <= 0) return 0;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, (int)left);
    return r;
  };
  int result = 0;
  if (::connect(fd, (sockaddr *)&addr, sizeof addr) != 0) {
    if (errno != EINPROGRESS) result = ERR_WEBREQUEST_CONNECT_FAILED;
    else if (wait_for(POLLOUT) <= 0) result = ERR_WEBREQUEST_TIMEOUT;
    else {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) result = ERR_WEBREQUEST_CONNECT_FAILED;
    }
  }
  size_t sent = 0;
  while (result == 0 && sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) sent += (size_t)n;
    else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_for(POLLOUT) <= 0) result = ERR_WEBREQUEST_TIMEOUT;
    } else result = ERR_WEBREQUEST_REQUEST_FAILED;
  }
  char buffer[16384];
  while (result == 0) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) response.append(buffer, (size_t)n);
    else if (n == 0) break;
    else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (wait_for(POLLIN) <= 0) result = ERR_WEBREQUEST_TIMEOUT;
    } else result = ERR_WEBREQUEST_REQUEST_FAILED;
  }
  ::close(fd);
  return result;
}
inline std::string lower_ascii(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}
}  // namespace mql5h

// The 7-argument form. Returns the HTTP status, or -1 with GetLastError() set: 4014 when the
// URL is not in the allow-list, 5200-5203 for an invalid address, a failed connection, a
// timeout or a failed request. result holds the body bytes, result_headers the response's
// header lines ("Name: value\r\n" each). Redirects are not followed.
inline int WebRequest(const string &method, const string &url, const string &headers, int timeout,
                      const MqlArray<char> &data, MqlArray<char> &result, string &result_headers) {
  if (MQLInfoInteger(MQL_TESTER)) mql5h::not_emulated("WebRequest in the Strategy Tester (refused there)");
  if (timeout <= 0) mql5h::not_emulated("WebRequest with a timeout <= 0");
  std::string m = method.utf8();
  if (m != "GET" && m != "POST") mql5h::not_emulated("WebRequest method " + m);
  mql5h::Url u;
  if (!mql5h::parse_url(url.utf8(), u)) {
    mql5h::last_error() = ERR_WEBREQUEST_INVALID_ADDRESS;
    mql5h::net().log.push_back(m + " " + url.utf8() + " -> -1 (5200)");
    return -1;
  }
  if (!mql5h::url_allowed(u)) {
    mql5h::last_error() = ERR_FUNCTION_NOT_ALLOWED;
    mql5h::net().log.push_back(m + " " + url.utf8() + " -> -1 (4014)");
    return -1;
  }
  if (u.scheme != "http" || (u.host != "127.0.0.1" && u.host != "localhost"))
    mql5h::not_emulated("WebRequest to " + u.scheme + "://" + u.host + " (plain HTTP to 127.0.0.1 only)");
  std::string extra = headers.utf8();
  if (!extra.empty() && extra.size() >= 2 && extra.compare(extra.size() - 2, 2, "\r\n") != 0) extra += "\r\n";
  std::string lower = "\r\n" + mql5h::lower_ascii(extra);
  if (lower.find("\r\ncontent-length:") != std::string::npos || lower.find("\r\nhost:") != std::string::npos ||
      lower.find("\r\nconnection:") != std::string::npos || lower.find("\r\ntransfer-encoding:") != std::string::npos)
    mql5h::not_emulated("WebRequest with Host, Content-Length, Connection or Transfer-Encoding headers");
  std::string body;
  for (int i = 0; i < data.size(); i++) body.push_back((char)data[i]);
  std::string request = m + " " + u.target + " HTTP/1.1\r\nHost: " + u.host + ":" + std::to_string(u.port) +
                        "\r\nConnection: close\r\n" + extra;
  if (!body.empty() || m == "POST") request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  request += "\r\n" + body;
  std::string response;
  int error = mql5h::http_exchange(u, request, timeout, response);
  if (error != 0) {
    mql5h::last_error() = error;
    mql5h::net().log.push_back(m + " " + url.utf8() + " -> -1 (" + std::to_string(error) + ")");
    return -1;
  }
  size_t head_end = response.find("\r\n\r\n");
  if (head_end == std::string::npos || response.compare(0, 7, "HTTP/1.") != 0 || response.size() < 12) {
    mql5h::last_error() = ERR_WEBREQUEST_REQUEST_FAILED;
    return -1;
  }
  int status = std::atoi(response.substr(9, 3).c_str());
  std::string head = response.substr(0, head_end + 2);
  std::string payload = response.substr(head_end + 4);
  std::string header_lines = head.substr(head.find("\r\n") + 2);
  std::string lower_head = "\r\n" + mql5h::lower_ascii(header_lines);
  if (lower_head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
    std::string decoded;
    size_t pos = 0;
    for (;;) {
      size_t eol = payload.find("\r\n", pos);
      if (eol == std::string::npos) { mql5h::last_error() = ERR_WEBREQUEST_REQUEST_FAILED; return -1; }
      long size = std::strtol(payload.substr(pos, eol - pos).c_str(), nullptr, 16);
      if (size == 0) break;
      if (eol + 2 + (size_t)size > payload.size()) { mql5h::last_error() = ERR_WEBREQUEST_REQUEST_FAILED; return -1; }
      decoded += payload.substr(eol + 2, (size_t)size);
      pos = eol + 2 + (size_t)size + 2;
    }
    payload = decoded;
  } else {
    size_t at = lower_head.find("\r\ncontent-length:");
    if (at != std::string::npos) {
      size_t length = (size_t)std::atol(lower_head.c_str() + at + 17);
      if (length > payload.size()) { mql5h::last_error() = ERR_WEBREQUEST_REQUEST_FAILED; return -1; }
      payload.resize(length);
    }
  }
  if (result.is_static()) mql5h::not_emulated("WebRequest into a static result array");
  result.resize_dynamic(0);
  result.resize_dynamic((int)payload.size());
  for (size_t i = 0; i < payload.size(); i++) result[(long)i] = payload[i];
  std::u16string hu;
  if (!mql5h::utf8_to_utf16(header_lines.data(), header_lines.size(), hu))
    mql5h::not_emulated("response headers that are not UTF-8");
  result_headers = string::from_utf16(hu);
  mql5h::net().log.push_back(m + " " + url.utf8() + " -> " + std::to_string(status));
  if (++mql5h::net().answered == mql5h::net().remove_after_answer) mql5h::program().expert_removed = true;
  return status;
}

// Inputs: plain globals here (the driver sets them before OnInit).
#define input
#define sinput

#endif  // EAGATE_MQL5COMPAT_H
