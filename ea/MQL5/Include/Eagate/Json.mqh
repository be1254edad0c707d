//+------------------------------------------------------------------+
//| Json.mqh: a small, strict JSON reader for eagate's answers.       |
//|                                                                  |
//| JsonParse() reads RFC 8259 JSON (objects, arrays, strings with    |
//| escapes and \u surrogate pairs, numbers kept as their text, true, |
//| false, null) into a flat array of nodes, and refuses what it      |
//| cannot read exactly rather than guessing: duplicate member names, |
//| lone surrogates, \u0000 (an MQL5 string cannot hold it), leading  |
//| zeros, NaN, trailing commas or text, nesting deeper than 64.      |
//|                                                                  |
//|   JsonDoc doc;                                                    |
//|   if(!JsonParse(body, doc)) Print("bad answer: ", doc.error);     |
//|   string id;  long wait;                                          |
//|   JsonGetString(doc, "signals[0].signal_id", id);                 |
//|   JsonGetLong(doc, "next_poll_seconds", wait);                    |
//|   int signals = JsonFind(doc, JSON_ROOT, "signals");              |
//|   for(int i = 0; i < JsonCount(doc, signals); i++)                |
//|      JsonGetString(doc, JsonItem(doc, signals, i), "side", side); |
//|                                                                  |
//| Paths: member names joined by '.', array indexes in brackets;     |
//| "" is the node itself. Getters return false when the path is      |
//| absent or the value is of another type (null included).          |
//+------------------------------------------------------------------+
#ifndef EAGATE_JSON_MQH
#define EAGATE_JSON_MQH

#include "Portable.mqh"

#define JSON_ROOT 0
#define EAGATE_JSON_MAX_DEPTH 64
#define EAGATE_JSON_MAX_NODES 100000

enum ENUM_JSON_TYPE
  {
   JSON_NULL = 0,
   JSON_FALSE = 1,
   JSON_TRUE = 2,
   JSON_NUMBER = 3,
   JSON_STRING = 4,
   JSON_ARRAY = 5,
   JSON_OBJECT = 6
  };

struct JsonNode
  {
   int               type;     // ENUM_JSON_TYPE
   int               parent;   // -1 for the root
   int               first;    // first child, -1 if none
   int               last;     // last child, -1 if none
   int               next;     // next sibling, -1 if none
   int               count;    // number of children (arrays, objects)
   string            key;      // member name, for a child of an object
   string            text;     // a string's value (unescaped) or a number's text
  };

struct JsonDoc
  {
   ARRAY(JsonNode, nodes);
   int               count;    // nodes in use (the array grows ahead)
   string            error;    // why JsonParse refused, with the offset
  };

//--- internal: a new node under parent; -1 when the document is too large.
int JsonAddNode(JsonDoc &doc, const int type, const int parent, const string key)
  {
   if(doc.count >= EAGATE_JSON_MAX_NODES)
      return -1;
   if(doc.count >= ArraySize(doc.nodes))
      if(ArrayResize(doc.nodes, MathMax(16, 2 * doc.count)) < 0)
         return -1;
   int i = doc.count;
   doc.count++;
   doc.nodes[i].type = type;
   doc.nodes[i].parent = parent;
   doc.nodes[i].first = -1;
   doc.nodes[i].last = -1;
   doc.nodes[i].next = -1;
   doc.nodes[i].count = 0;
   doc.nodes[i].key = key;
   doc.nodes[i].text = "";
   if(parent >= 0)
     {
      if(doc.nodes[parent].first < 0)
         doc.nodes[parent].first = i;
      else
         doc.nodes[doc.nodes[parent].last].next = i;
      doc.nodes[parent].last = i;
      doc.nodes[parent].count++;
     }
   return i;
  }

//--- internal: records the first error; always false.
bool JsonFail(JsonDoc &doc, const int pos, const string why)
  {
   if(doc.error == "")
      doc.error = "offset " + IntegerToString(pos) + ": " + why;
   return false;
  }

//--- internal
void JsonSkipSpace(const string &text, int &pos)
  {
   int n = StringLen(text);
   while(pos < n)
     {
      ushort c = StringGetCharacter(text, pos);
      if(c != ' ' && c != '\t' && c != '\n' && c != '\r')
         return;
      pos++;
     }
  }

//--- internal: the value of one hex digit, -1 if not one.
int JsonHexDigit(const ushort c)
  {
   if(c >= '0' && c <= '9')
      return c - '0';
   if(c >= 'a' && c <= 'f')
      return c - 'a' + 10;
   if(c >= 'A' && c <= 'F')
      return c - 'A' + 10;
   return -1;
  }

//--- internal: four hex digits at pos (after "\u"); -1 if not.
int JsonHex4(const string &text, const int pos)
  {
   if(pos + 4 > StringLen(text))
      return -1;
   int value = 0;
   for(int k = 0; k < 4; k++)
     {
      int d = JsonHexDigit(StringGetCharacter(text, pos + k));
      if(d < 0)
         return -1;
      value = value * 16 + d;
     }
   return value;
  }

//--- internal: a string starting at the opening quote; pos ends after the closing quote.
bool JsonReadString(JsonDoc &doc, const string &text, int &pos, string &value)
  {
   int n = StringLen(text);
   value = "";
   pos++;   // the opening quote
   int run = pos;   // start of the current run of plain characters
   while(pos < n)
     {
      ushort c = StringGetCharacter(text, pos);
      if(c == '"')
        {
         if(pos > run)
            value += StringSubstr(text, run, pos - run);
         pos++;
         return true;
        }
      if(c < 0x20)
         return JsonFail(doc, pos, "control character in a string");
      if(c >= 0xD800 && c <= 0xDBFF)
        {
         if(pos + 1 >= n || StringGetCharacter(text, pos + 1) < 0xDC00 ||
            StringGetCharacter(text, pos + 1) > 0xDFFF)
            return JsonFail(doc, pos, "lone surrogate in a string");
         pos += 2;
         continue;
        }
      if(c >= 0xDC00 && c <= 0xDFFF)
         return JsonFail(doc, pos, "lone surrogate in a string");
      if(c != '\\')
        {
         pos++;
         continue;
        }
      if(pos > run)
         value += StringSubstr(text, run, pos - run);
      if(pos + 1 >= n)
         return JsonFail(doc, pos, "unterminated string");
      ushort e = StringGetCharacter(text, pos + 1);
      pos += 2;
      if(e == '"')
         value += "\"";
      else
         if(e == '\\')
            value += "\\";
         else
            if(e == '/')
               value += "/";
            else
               if(e == 'b')
                  value += ShortToString(0x08);
               else
                  if(e == 'f')
                     value += ShortToString(0x0C);
                  else
                     if(e == 'n')
                        value += "\n";
                     else
                        if(e == 'r')
                           value += "\r";
                        else
                           if(e == 't')
                              value += "\t";
                           else
                              if(e == 'u')
                                {
                                 int unit = JsonHex4(text, pos);
                                 if(unit < 0)
                                    return JsonFail(doc, pos, "bad \\u escape");
                                 pos += 4;
                                 if(unit == 0)
                                    return JsonFail(doc, pos, "\\u0000 cannot be held by a string");
                                 if(unit >= 0xDC00 && unit <= 0xDFFF)
                                    return JsonFail(doc, pos, "lone low surrogate escape");
                                 if(unit >= 0xD800 && unit <= 0xDBFF)
                                   {
                                    int low = -1;
                                    if(pos + 6 <= n && StringGetCharacter(text, pos) == '\\' &&
                                       StringGetCharacter(text, pos + 1) == 'u')
                                       low = JsonHex4(text, pos + 2);
                                    if(low < 0xDC00 || low > 0xDFFF)
                                       return JsonFail(doc, pos, "lone high surrogate escape");
                                    pos += 6;
                                    value += ShortToString((ushort)unit);
                                    value += ShortToString((ushort)low);
                                   }
                                 else
                                    value += ShortToString((ushort)unit);
                                }
                              else
                                 return JsonFail(doc, pos - 1, "bad escape");
      run = pos;
     }
   return JsonFail(doc, pos, "unterminated string");
  }

//--- internal: a number's text, per RFC 8259's grammar.
bool JsonReadNumber(JsonDoc &doc, const string &text, int &pos, string &value)
  {
   int n = StringLen(text);
   int start = pos;
   if(pos < n && StringGetCharacter(text, pos) == '-')
      pos++;
   if(pos >= n)
      return JsonFail(doc, pos, "bad number");
   ushort c = StringGetCharacter(text, pos);
   if(c == '0')
      pos++;
   else
      if(c >= '1' && c <= '9')
        {
         while(pos < n && StringGetCharacter(text, pos) >= '0' && StringGetCharacter(text, pos) <= '9')
            pos++;
        }
      else
         return JsonFail(doc, pos, "bad number");
   if(pos < n && StringGetCharacter(text, pos) == '.')
     {
      pos++;
      int digits = 0;
      while(pos < n && StringGetCharacter(text, pos) >= '0' && StringGetCharacter(text, pos) <= '9')
        {
         pos++;
         digits++;
        }
      if(digits == 0)
         return JsonFail(doc, pos, "bad number: no digit after the point");
     }
   if(pos < n && (StringGetCharacter(text, pos) == 'e' || StringGetCharacter(text, pos) == 'E'))
     {
      pos++;
      if(pos < n && (StringGetCharacter(text, pos) == '+' || StringGetCharacter(text, pos) == '-'))
         pos++;
      int exp_digits = 0;
      while(pos < n && StringGetCharacter(text, pos) >= '0' && StringGetCharacter(text, pos) <= '9')
        {
         pos++;
         exp_digits++;
        }
      if(exp_digits == 0)
         return JsonFail(doc, pos, "bad number: no digit in the exponent");
     }
   value = StringSubstr(text, start, pos - start);
   return true;
  }

//--- internal: true when text at pos starts with word.
bool JsonLiteral(const string &text, const int pos, const string word)
  {
   return StringSubstr(text, pos, StringLen(word)) == word;
  }

//--- internal: one value of any type under parent (member name key).
bool JsonReadValue(JsonDoc &doc, const string &text, int &pos, const int parent, const string key,
                   const int depth)
  {
   if(depth > EAGATE_JSON_MAX_DEPTH)
      return JsonFail(doc, pos, "nested too deeply");
   JsonSkipSpace(text, pos);
   if(pos >= StringLen(text))
      return JsonFail(doc, pos, "a value was expected");
   ushort c = StringGetCharacter(text, pos);
   int node;
   if(c == '{')
     {
      node = JsonAddNode(doc, JSON_OBJECT, parent, key);
      if(node < 0)
         return JsonFail(doc, pos, "document too large");
      pos++;
      JsonSkipSpace(text, pos);
      if(pos < StringLen(text) && StringGetCharacter(text, pos) == '}')
        {
         pos++;
         return true;
        }
      while(true)
        {
         JsonSkipSpace(text, pos);
         if(pos >= StringLen(text) || StringGetCharacter(text, pos) != '"')
            return JsonFail(doc, pos, "a member name was expected");
         string name;
         if(!JsonReadString(doc, text, pos, name))
            return false;
         for(int sibling = doc.nodes[node].first; sibling >= 0; sibling = doc.nodes[sibling].next)
            if(doc.nodes[sibling].key == name)
               return JsonFail(doc, pos, "duplicate member name \"" + name + "\"");
         JsonSkipSpace(text, pos);
         if(pos >= StringLen(text) || StringGetCharacter(text, pos) != ':')
            return JsonFail(doc, pos, "':' was expected");
         pos++;
         if(!JsonReadValue(doc, text, pos, node, name, depth + 1))
            return false;
         JsonSkipSpace(text, pos);
         if(pos >= StringLen(text))
            return JsonFail(doc, pos, "unterminated object");
         c = StringGetCharacter(text, pos);
         pos++;
         if(c == '}')
            return true;
         if(c != ',')
            return JsonFail(doc, pos - 1, "',' or '}' was expected");
        }
     }
   if(c == '[')
     {
      node = JsonAddNode(doc, JSON_ARRAY, parent, key);
      if(node < 0)
         return JsonFail(doc, pos, "document too large");
      pos++;
      JsonSkipSpace(text, pos);
      if(pos < StringLen(text) && StringGetCharacter(text, pos) == ']')
        {
         pos++;
         return true;
        }
      while(true)
        {
         if(!JsonReadValue(doc, text, pos, node, "", depth + 1))
            return false;
         JsonSkipSpace(text, pos);
         if(pos >= StringLen(text))
            return JsonFail(doc, pos, "unterminated array");
         c = StringGetCharacter(text, pos);
         pos++;
         if(c == ']')
            return true;
         if(c != ',')
            return JsonFail(doc, pos - 1, "',' or ']' was expected");
        }
     }
   string value;
   int type;
   if(c == '"')
     {
      if(!JsonReadString(doc, text, pos, value))
         return false;
      type = JSON_STRING;
     }
   else
      if(c == '-' || (c >= '0' && c <= '9'))
        {
         if(!JsonReadNumber(doc, text, pos, value))
            return false;
         type = JSON_NUMBER;
        }
      else
         if(JsonLiteral(text, pos, "true"))
           {
            pos += 4;
            type = JSON_TRUE;
           }
         else
            if(JsonLiteral(text, pos, "false"))
              {
               pos += 5;
               type = JSON_FALSE;
              }
            else
               if(JsonLiteral(text, pos, "null"))
                 {
                  pos += 4;
                  type = JSON_NULL;
                 }
               else
                  return JsonFail(doc, pos, "unexpected character");
   node = JsonAddNode(doc, type, parent, key);
   if(node < 0)
      return JsonFail(doc, pos, "document too large");
   doc.nodes[node].text = value;
   return true;
  }

//--- Parses text into doc (node JSON_ROOT is the top value). false, with doc.error, when
//--- text is not exactly one JSON value (surrounded by blanks at most).
bool JsonParse(const string text, JsonDoc &doc)
  {
   ArrayFree(doc.nodes);
   doc.count = 0;
   doc.error = "";
   int pos = 0;
   if(!JsonReadValue(doc, text, pos, -1, "", 1))
     {
      doc.count = 0;
      return false;
     }
   JsonSkipSpace(text, pos);
   if(pos != StringLen(text))
     {
      doc.count = 0;
      return JsonFail(doc, pos, "text after the value");
     }
   return true;
  }

//--- The node's type (ENUM_JSON_TYPE), -1 for no node.
int JsonType(const JsonDoc &doc, const int node)
  {
   if(node < 0 || node >= doc.count)
      return -1;
   return doc.nodes[node].type;
  }

//--- Children of an array or object; -1 for any other node.
int JsonCount(const JsonDoc &doc, const int node)
  {
   int type = JsonType(doc, node);
   if(type != JSON_ARRAY && type != JSON_OBJECT)
      return -1;
   return doc.nodes[node].count;
  }

//--- The member name of a child of an object ("" otherwise).
string JsonKey(const JsonDoc &doc, const int node)
  {
   if(node < 0 || node >= doc.count)
      return "";
   return doc.nodes[node].key;
  }

//--- The index-th element of an array, or member of an object (in document order); -1 if none.
int JsonItem(const JsonDoc &doc, const int node, const int index)
  {
   if(JsonCount(doc, node) <= index || index < 0)
      return -1;
   int child = doc.nodes[node].first;
   for(int i = 0; i < index; i++)
      child = doc.nodes[child].next;
   return child;
  }

//--- The member named name of an object; -1 if none.
int JsonMember(const JsonDoc &doc, const int node, const string name)
  {
   if(JsonType(doc, node) != JSON_OBJECT)
      return -1;
   for(int child = doc.nodes[node].first; child >= 0; child = doc.nodes[child].next)
      if(doc.nodes[child].key == name)
         return child;
   return -1;
  }

//--- The node at path from node ("a.b[2].c"; "" is node itself); -1 if absent.
int JsonFind(const JsonDoc &doc, const int node, const string path)
  {
   int at = node;
   if(JsonType(doc, at) < 0)
      return -1;
   int n = StringLen(path);
   int pos = 0;
   while(pos < n)
     {
      ushort c = StringGetCharacter(path, pos);
      if(c == '[')
        {
         int close = StringFind(path, "]", pos);
         if(close < 0 || close == pos + 1)
            return -1;
         int index = 0;
         for(int k = pos + 1; k < close; k++)
           {
            ushort d = StringGetCharacter(path, k);
            if(d < '0' || d > '9' || index > 10000000)
               return -1;
            index = index * 10 + (d - '0');
           }
         if(JsonType(doc, at) != JSON_ARRAY)
            return -1;
         at = JsonItem(doc, at, index);
         if(at < 0)
            return -1;
         pos = close + 1;
         if(pos < n && StringGetCharacter(path, pos) == '.')
           {
            pos++;
            if(pos >= n)
               return -1;
           }
         continue;
        }
      int end = pos;
      while(end < n && StringGetCharacter(path, end) != '.' && StringGetCharacter(path, end) != '[')
         end++;
      if(end == pos)
         return -1;
      at = JsonMember(doc, at, StringSubstr(path, pos, end - pos));
      if(at < 0)
         return -1;
      pos = end;
      if(pos < n && StringGetCharacter(path, pos) == '.')
        {
         pos++;
         if(pos >= n)
            return -1;
        }
     }
   return at;
  }

//--- Typed getters: true and value set only when the path exists with that type.
bool JsonGetString(const JsonDoc &doc, const int node, const string path, string &value)
  {
   int at = JsonFind(doc, node, path);
   if(JsonType(doc, at) != JSON_STRING)
      return false;
   value = doc.nodes[at].text;
   return true;
  }

bool JsonGetString(const JsonDoc &doc, const string path, string &value)
  {
   return JsonGetString(doc, JSON_ROOT, path, value);
  }

//--- A number's text exactly as sent ("0.10", "1e-3"): parse it as the caller needs.
bool JsonGetNumber(const JsonDoc &doc, const int node, const string path, string &value)
  {
   int at = JsonFind(doc, node, path);
   if(JsonType(doc, at) != JSON_NUMBER)
      return false;
   value = doc.nodes[at].text;
   return true;
  }

bool JsonGetNumber(const JsonDoc &doc, const string path, string &value)
  {
   return JsonGetNumber(doc, JSON_ROOT, path, value);
  }

//--- An integer: a number without fraction or exponent, at most 18 digits.
bool JsonGetLong(const JsonDoc &doc, const int node, const string path, long &value)
  {
   string text;
   if(!JsonGetNumber(doc, node, path, text))
      return false;
   int digits = StringLen(text);
   if(StringGetCharacter(text, 0) == '-')
      digits--;
   if(digits > 18 || StringFind(text, ".") >= 0 || StringFind(text, "e") >= 0 ||
      StringFind(text, "E") >= 0)
      return false;
   value = StringToInteger(text);
   return true;
  }

bool JsonGetLong(const JsonDoc &doc, const string path, long &value)
  {
   return JsonGetLong(doc, JSON_ROOT, path, value);
  }

bool JsonGetDouble(const JsonDoc &doc, const int node, const string path, double &value)
  {
   string text;
   if(!JsonGetNumber(doc, node, path, text))
      return false;
   value = StringToDouble(text);
   return MathIsValidNumber(value);
  }

bool JsonGetDouble(const JsonDoc &doc, const string path, double &value)
  {
   return JsonGetDouble(doc, JSON_ROOT, path, value);
  }

bool JsonGetBool(const JsonDoc &doc, const int node, const string path, bool &value)
  {
   int type = JsonType(doc, JsonFind(doc, node, path));
   if(type != JSON_TRUE && type != JSON_FALSE)
      return false;
   value = (type == JSON_TRUE);
   return true;
  }

bool JsonGetBool(const JsonDoc &doc, const string path, bool &value)
  {
   return JsonGetBool(doc, JSON_ROOT, path, value);
  }

bool JsonIsNull(const JsonDoc &doc, const int node, const string path)
  {
   return JsonType(doc, JsonFind(doc, node, path)) == JSON_NULL;
  }

bool JsonIsNull(const JsonDoc &doc, const string path)
  {
   return JsonIsNull(doc, JSON_ROOT, path);
  }

//--- text as a JSON string literal, quotes included: for building request bodies.
string JsonQuote(const string text)
  {
   string out = "\"";
   int n = StringLen(text);
   int run = 0;
   for(int i = 0; i < n; i++)
     {
      ushort c = StringGetCharacter(text, i);
      string escaped = "";
      if(c == '"')
         escaped = "\\\"";
      else
         if(c == '\\')
            escaped = "\\\\";
         else
            if(c == '\n')
               escaped = "\\n";
            else
               if(c == '\r')
                  escaped = "\\r";
               else
                  if(c == '\t')
                     escaped = "\\t";
                  else
                     if(c < 0x20)
                        escaped = StringFormat("\\u%04x", c);
      if(escaped != "")
        {
         if(i > run)
            out += StringSubstr(text, run, i - run);
         out += escaped;
         run = i + 1;
        }
     }
   if(n > run)
      out += StringSubstr(text, run, n - run);
   return out + "\"";
  }

#endif // EAGATE_JSON_MQH
