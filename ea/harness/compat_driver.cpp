// Checks mql5compat.h's own documented semantics; each "case" argument runs one check and
// prints "ok <case>" (or aborts, which tests/ea/test_compat.py expects for some cases).
#include "mql5compat.h"

#include <cstring>

static void check(bool condition, const char *what) {
  if (!condition) mql5h::fatal(std::string("check failed: ") + what);
}

int main(int argc, char **argv) {
  mql5h::output().echo = false;
  std::string which = argc > 1 ? argv[1] : "";
  if (which == "strings") {
    string emoji = "a\xF0\x9F\x98\x80";  // "a" + U+1F600: a surrogate pair in UTF-16
    check(StringLen(emoji) == 3, "emoji is two UTF-16 units");
    ARRAY(uchar, bytes);
    check(StringToCharArray(emoji, bytes, 0, WHOLE_ARRAY, CP_UTF8) == 6, "WHOLE_ARRAY counts the NUL");
    check(ArraySize(bytes) == 6 && bytes[5] == 0, "the terminating 0 is copied");
    check(CharArrayToString(bytes, 0, -1, CP_UTF8) == emoji, "round trip");
    check(StringFormat("%02x|%5s|%-3d|%lld", 10, "ab", 7, (long)1795773600123) == "0a|   ab|7  |1795773600123", "StringFormat");
    check(IntegerToString(42, 5, '0') == "00042", "IntegerToString padding");
    check(DoubleToString(1.5, 2) == "1.50", "DoubleToString");
    check(StringToInteger(" 1795773600 ") == 1795773600, "StringToInteger");
    string s = "a,b,,c";
    ARRAY(string, parts);
    check(StringSplit(s, ',', parts) == 4 && parts[2] == "", "StringSplit");
    check(StringFind("abcabc", "c", 3) == 5 && StringSubstr("abcdef", 2, 3) == "cde", "Find/Substr");
    string up = "Get";
    StringToUpper(up);
    check(up == "GET", "StringToUpper");
  } else if (which == "arrays") {
    ARRAY(uchar, a);
    ArrayResize(a, 3);
    check(a[0] == 0xA5 && a[2] == 0xA5, "new elements are 0xA5");
    ARRAY(uchar, src);
    ArrayResize(src, 5);
    ArrayInitialize(src, 7);
    check(ArrayCopy(a, src, 1, 2, WHOLE_ARRAY) == 3 && ArraySize(a) == 4 && a[3] == 7, "ArrayCopy copies the rest and grows dst");
    check(ArrayCopy(a, src, 0, 0, 0) == 5, "count 0 copies the rest");
    STATIC_ARRAY(int, fixed, 2);
    check(fixed[1] == (int)0xA5A5A5A5, "static elements are 0xA5");
  } else if (which == "out-of-range") {
    ARRAY(uchar, a);
    ArrayResize(a, 2);
    std::printf("%d\n", a[2]);
  } else if (which == "clock") {
    mql5h::set_gmt(1795773600);
    mql5h::clock().broker_offset = 7200;
    check((long)TimeGMT() == 1795773600 && (long)TimeCurrent() == 1795780800, "clock");
    check(TimeToString(TimeGMT(), TIME_DATE | TIME_SECONDS) == "2026.11.27 10:00:00", "TimeToString");
    MqlDateTime dt;
    TimeToStruct(TimeGMT(), dt);
    check(dt.year == 2026 && dt.mon == 11 && dt.day == 27 && dt.hour == 10, "TimeToStruct");
    check((long)StructToTime(dt) == 1795773600, "StructToTime");
  } else if (which == "files") {
    mql5h::set_sandbox(argv[2]);
    int h = FileOpen("Eagate\\journal.txt", FILE_WRITE | FILE_TXT | FILE_ANSI, '\t', CP_UTF8);
    check(h != INVALID_HANDLE, "FileOpen for writing");
    FileWrite(h, "line one");
    FileWriteString(h, "caf\xC3\xA9\r\n");
    FileFlush(h);
    FileClose(h);
    check(FileIsExist("Eagate\\journal.txt") && !FileIsExist("missing.txt"), "FileIsExist");
    h = FileOpen("Eagate/journal.txt", FILE_READ | FILE_TXT | FILE_ANSI, '\t', CP_UTF8);
    check(FileReadString(h) == "line one" && FileReadString(h) == "caf\xC3\xA9" && FileIsEnding(h), "FileReadString");
    FileClose(h);
    check(FileOpen("missing.txt", FILE_READ | FILE_TXT | FILE_ANSI) == INVALID_HANDLE && GetLastError() == ERR_CANNOT_OPEN_FILE, "missing file");
    check(FileOpen("../escape.txt", FILE_WRITE | FILE_BIN) == INVALID_HANDLE, "no escape from the sandbox");
    check(FileDelete("Eagate\\journal.txt") && !FileIsExist("Eagate\\journal.txt"), "FileDelete");
  } else if (which == "webrequest-not-allowed") {
    mql5h::allow_url("http://127.0.0.1:9");
    ARRAY(char, data);
    ARRAY(char, result);
    string headers;
    ResetLastError();
    check(WebRequest("GET", "http://127.0.0.1:8/x", "", 1000, data, result, headers) == -1 && GetLastError() == 4014, "4014");
    ResetLastError();
    check(WebRequest("GET", "http://127.0.0.1:9/x", "", 1000, data, result, headers) == -1 && GetLastError() == ERR_WEBREQUEST_CONNECT_FAILED, "refused connection");
  } else if (which == "webrequest-get") {
    std::string url = argv[2];
    mql5h::allow_url(url);
    ARRAY(char, data);
    ARRAY(char, result);
    string headers;
    int status = WebRequest("GET", string((url + "/hello?x=1").c_str()), "X-Test: 1\r\n", 5000, data, result, headers);
    std::printf("status %d body %d\n", status, ArraySize(result));
    std::fwrite(headers.utf8().data(), 1, headers.utf8().size(), stdout);
    std::printf("\n");
    for (int i = 0; i < ArraySize(result); i++) std::putchar(result[i]);
    std::printf("\n");
  } else {
    mql5h::fatal("unknown case " + which);
  }
  std::printf("ok %s\n", which.c_str());
  return 0;
}
