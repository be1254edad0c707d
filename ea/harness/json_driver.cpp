// Reads a JSON document from stdin the way the EA receives one (bytes -> CharArrayToString
// CP_UTF8), parses it with the shipped Json.mqh, and prints either
//   ok\t<the document re-serialised from the node array, with JsonQuote for strings>
// or
//   refused\t<doc.error>          (exit status 2)
// then one line per query argument "path=type" (type: string number long double bool null
// type count):  get\t<path>\t<type>\t<yes|no>\t<value as a JSON string>
#include "mql5compat.h"

#include "Eagate/Json.mqh"

#include <iostream>
#include <iterator>

static string Dump(const JsonDoc &doc, int node) {
  int type = JsonType(doc, node);
  if (type == JSON_NULL) return "null";
  if (type == JSON_TRUE) return "true";
  if (type == JSON_FALSE) return "false";
  if (type == JSON_NUMBER || type == JSON_STRING) {
    string text;
    if (type == JSON_NUMBER) JsonGetNumber(doc, node, "", text);
    else JsonGetString(doc, node, "", text);
    return type == JSON_NUMBER ? text : JsonQuote(text);
  }
  string out = type == JSON_ARRAY ? "[" : "{";
  for (int i = 0; i < JsonCount(doc, node); i++) {
    int child = JsonItem(doc, node, i);
    if (i > 0) out += ",";
    if (type == JSON_OBJECT) out += JsonQuote(JsonKey(doc, child)) + ":";
    out += Dump(doc, child);
  }
  return out + (type == JSON_ARRAY ? "]" : "}");
}

int main(int argc, char **argv) {
  mql5h::output().echo = false;
  std::string raw((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  ARRAY(uchar, bytes);
  ArrayResize(bytes, (int)raw.size());
  for (size_t i = 0; i < raw.size(); i++) bytes[(long)i] = (uchar)raw[i];
  string text = CharArrayToString(bytes, 0, ArraySize(bytes), CP_UTF8);
  JsonDoc doc;
  bool ok = JsonParse(text, doc);
  if (ok) std::printf("ok\t%s\n", Dump(doc, JSON_ROOT).utf8().c_str());
  else std::printf("refused\t%s\n", doc.error.utf8().c_str());
  for (int a = 1; a < argc; a++) {
    std::string query = argv[a];
    size_t eq = query.rfind('=');
    string path(query.substr(0, eq).c_str());
    std::string type = query.substr(eq + 1);
    bool found = false;
    string value;
    if (type == "string") {
      found = JsonGetString(doc, path, value);
    } else if (type == "number") {
      found = JsonGetNumber(doc, path, value);
    } else if (type == "long") {
      long v = 0;
      found = JsonGetLong(doc, path, v);
      value = IntegerToString(v);
    } else if (type == "double") {
      double v = 0;
      found = JsonGetDouble(doc, path, v);
      value = DoubleToString(v, 8);
    } else if (type == "bool") {
      bool v = false;
      found = JsonGetBool(doc, path, v);
      value = v ? "true" : "false";
    } else if (type == "null") {
      found = JsonIsNull(doc, path);
    } else if (type == "type") {
      found = true;
      value = IntegerToString(JsonType(doc, JsonFind(doc, JSON_ROOT, path)));
    } else if (type == "count") {
      found = true;
      value = IntegerToString(JsonCount(doc, JsonFind(doc, JSON_ROOT, path)));
    } else {
      mql5h::fatal("unknown query type " + type);
    }
    std::printf("get\t%s\t%s\t%s\t%s\n", path.utf8().c_str(), type.c_str(), found ? "yes" : "no",
                JsonQuote(found ? value : "").utf8().c_str());
  }
  return ok ? 0 : 2;
}
