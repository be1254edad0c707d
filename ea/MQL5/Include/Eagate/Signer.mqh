//+------------------------------------------------------------------+
//| Signer.mqh: request signing for the eagate device API             |
//|                                                                  |
//| Protocol: docs/PROTOCOL.md. Test vectors: docs/test-vectors.json. |
//|                                                                  |
//| Compiled and run in CI through the MQL5 emulation harness         |
//| (ea/harness/, tests/ea/): it reproduces every published vector    |
//| byte for byte. In the terminal, EagateSelfTest() (SelfTest.mqh)   |
//| checks RFC 4231 and every vector again; call it from OnInit().    |
//| If it fails, compare EagateHmacSha256's output with the vector's  |
//| hmac_sha256_hex to see which step differs.                        |
//+------------------------------------------------------------------+
#ifndef EAGATE_SIGNER_MQH
#define EAGATE_SIGNER_MQH

#include "Portable.mqh"

// SHA-256 of zero bytes: the body hash of a request without a body. A constant, so we never
// depend on what CryptEncode does with an empty array.
#define EAGATE_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

long  g_eagate_clock_offset = 0;   // server time - TimeGMT(), learned from X-Server-Time
ulong g_eagate_nonce_counter = 0;

//--- UTF-8 bytes of text WITHOUT the terminating NUL that StringToCharArray appends.
//--- Use the same array for signing and for WebRequest: the hash covers exactly those bytes.
int EagateUtf8(const string text, ARRAY_REF(uchar, out))
  {
   ArrayFree(out);
   if(StringLen(text) == 0)
      return 0;
   int n = StringToCharArray(text, out, 0, WHOLE_ARRAY, CP_UTF8);
   if(n > 0 && out[n - 1] == 0)
      n--;
   ArrayResize(out, n);
   return n;
  }

//--- Lowercase hex, as the canonical string's BODY_SHA256 line requires.
string EagateHex(const ARRAY_REF(uchar, data))
  {
   string hex = "";
   int n = ArraySize(data);
   for(int i = 0; i < n; i++)
      hex += StringFormat("%02x", data[i]);
   return hex;
  }

bool EagateSha256(const ARRAY_REF(uchar, data), ARRAY_REF(uchar, digest))
  {
   ARRAY(uchar, no_key);   // hashing takes no key
   return CryptEncode(CRYPT_HASH_SHA256, data, no_key, digest) == 32;
  }

//--- HMAC-SHA256 per RFC 2104: H((K ^ opad) || H((K ^ ipad) || message)), 64-byte blocks.
//--- An eagate secret is 64 ASCII characters: exactly one block, so it is used as is (only a
//--- key longer than 64 bytes would be hashed first; a shorter one is padded with zeros).
bool EagateHmacSha256(const ARRAY_REF(uchar, key), const ARRAY_REF(uchar, message),
                      ARRAY_REF(uchar, mac))
  {
   int i;
   STATIC_ARRAY(uchar, block, 64);
   ArrayInitialize(block, 0);
   int key_len = ArraySize(key);
   if(key_len > 64)
     {
      ARRAY(uchar, hashed_key);
      if(!EagateSha256(key, hashed_key))
         return false;
      ArrayCopy(block, hashed_key, 0, 0, 32);
     }
   else
      if(key_len > 0)
         ArrayCopy(block, key, 0, 0, key_len);

   int msg_len = ArraySize(message);
   ARRAY(uchar, inner);
   ArrayResize(inner, 64 + msg_len);
   for(i = 0; i < 64; i++)
      inner[i] = (uchar)(block[i] ^ 0x36);
   if(msg_len > 0)
      ArrayCopy(inner, message, 64, 0, msg_len);
   ARRAY(uchar, inner_hash);
   if(!EagateSha256(inner, inner_hash))
      return false;

   ARRAY(uchar, outer);
   ArrayResize(outer, 64 + 32);
   for(i = 0; i < 64; i++)
      outer[i] = (uchar)(block[i] ^ 0x5c);
   ArrayCopy(outer, inner_hash, 64, 0, 32);
   return EagateSha256(outer, mac);
  }

//--- Standard, padded base64 (44 characters for a 32-byte MAC).
string EagateBase64(const ARRAY_REF(uchar, data))
  {
   ARRAY(uchar, no_key);
   ARRAY(uchar, encoded);
   if(CryptEncode(CRYPT_BASE64, data, no_key, encoded) <= 0)
      return "";
   return CharArrayToString(encoded, 0, ArraySize(encoded), CP_UTF8);
  }

string EagateBodySha256(const ARRAY_REF(uchar, body))
  {
   if(ArraySize(body) == 0)
      return EAGATE_EMPTY_SHA256;
   ARRAY(uchar, digest);
   if(!EagateSha256(body, digest))
      return "";
   return EagateHex(digest);
  }

//--- Six lines joined by "\n" (LF only), no trailing newline. path_and_query is the request
//--- target exactly as sent: "/api/v1/device/poll?wait=25&limit=20", or "/api/v1/device/me"
//--- (no "?" when there is no query).
string EagateCanonical(const string method, const string path_and_query,
                       const string device_id, const long timestamp,
                       const string nonce, const ARRAY_REF(uchar, body))
  {
   string upper = method;
   StringToUpper(upper);
   return upper + "\n" + path_and_query + "\n" + device_id + "\n" +
          IntegerToString(timestamp) + "\n" + nonce + "\n" + EagateBodySha256(body);
  }

//--- base64(HMAC-SHA256(ASCII bytes of the 64-hex secret exactly as shown, canonical)).
//--- The key is the text, NOT the 32 bytes the hex would decode to. "" on failure.
string EagateSign(const string secret, const string canonical)
  {
   ARRAY(uchar, key);
   ARRAY(uchar, message);
   ARRAY(uchar, mac);
   EagateUtf8(secret, key);
   EagateUtf8(canonical, message);
   if(!EagateHmacSha256(key, message, mac))
      return "";
   return EagateBase64(mac);
  }

//--- The server's clock as best we know it: TimeGMT() (the PC clock, not the broker's
//--- TimeCurrent()) corrected by the offset learned from X-Server-Time.
long EagateNow()
  {
   return (long)TimeGMT() + g_eagate_clock_offset;
  }

//--- Learn the offset from a response's headers (WebRequest's result_headers).
void EagateLearnServerTime(const string result_headers)
  {
   string lower = "\n" + result_headers;   // header names are case-insensitive
   StringToLower(lower);
   string name = "\nx-server-time:";
   int at = StringFind(lower, name);
   if(at < 0)
      return;
   int start = at + StringLen(name);
   int end = StringFind(lower, "\n", start);
   string value = StringSubstr(lower, start, end < 0 ? -1 : end - start);
   StringReplace(value, "\r", "");
   StringTrimLeft(value);
   StringTrimRight(value);
   long server_time = StringToInteger(value);
   if(server_time > 0)
      g_eagate_clock_offset = server_time - (long)TimeGMT();
  }

//--- A nonce: 32 lowercase hex characters, never reused. It must be unique, not secret (the
//--- signature protects the request), so a hash of clocks, a counter and the terminal's
//--- identity is enough; MathRand() alone (15 bits) is not.
string EagateNonce()
  {
   g_eagate_nonce_counter++;
   string seed = IntegerToString((long)TimeGMT()) + "|" +
                 IntegerToString((long)GetMicrosecondCount()) + "|" +
                 IntegerToString((long)GetTickCount64()) + "|" +
                 IntegerToString((long)g_eagate_nonce_counter) + "|" +
                 IntegerToString(MathRand()) + "|" +
                 IntegerToString(AccountInfoInteger(ACCOUNT_LOGIN)) + "|" +
                 IntegerToString(ChartID());
   ARRAY(uchar, bytes);
   ARRAY(uchar, digest);
   EagateUtf8(seed, bytes);
   if(!EagateSha256(bytes, digest))
      return "";
   return StringSubstr(EagateHex(digest), 0, 32);
  }

//--- The headers string for WebRequest ("Name: value" lines separated by "\r\n"), signed
//--- with a fresh timestamp and nonce. "" if signing failed. Call it again for every attempt.
string EagateHeaders(const string device_id, const string secret, const string method,
                     const string path_and_query, const ARRAY_REF(uchar, body))
  {
   long timestamp = EagateNow();
   string nonce = EagateNonce();
   if(nonce == "")
      return "";
   string signature = EagateSign(secret, EagateCanonical(method, path_and_query, device_id,
                                 timestamp, nonce, body));
   if(StringLen(signature) != 44)
      return "";
   string headers = "X-Device-Id: " + device_id + "\r\n" +
                    "X-Timestamp: " + IntegerToString(timestamp) + "\r\n" +
                    "X-Nonce: " + nonce + "\r\n" +
                    "X-Signature: " + signature + "\r\n" +
                    "Accept: application/json\r\n";
   if(ArraySize(body) > 0)
      headers += "Content-Type: application/json\r\n";
   return headers;
  }

//--- One signed request, re-signed and retried once if the server says our clock is off.
//--- base_url: "https://eagate.example.com" (no trailing slash; it must be in the allow-list
//--- of Tools > Options > Expert Advisors, or WebRequest fails with error 4014).
//--- Returns the HTTP status, or -1 (see GetLastError()).
int EagateRequest(const string base_url, const string device_id, const string secret,
                  const string method, const string path_and_query, const string json_body,
                  const int timeout_ms, string &response_body, string &response_headers)
  {
   ARRAY(uchar, body);
   int n = EagateUtf8(json_body, body);
   ARRAY(char, data);   // WebRequest takes char[]; copy byte by byte, without a NUL
   ArrayResize(data, n);
   for(int i = 0; i < n; i++)
      data[i] = (char)body[i];

   int status = -1;
   for(int attempt = 0; attempt < 2; attempt++)
     {
      string headers = EagateHeaders(device_id, secret, method, path_and_query, body);
      if(headers == "")
         return -1;
      ARRAY(char, result);
      ResetLastError();
      status = WebRequest(method, base_url + path_and_query, headers, timeout_ms, data,
                          result, response_headers);
      if(status == -1)
         return -1;
      EagateLearnServerTime(response_headers);
      int m = ArraySize(result);
      ARRAY(uchar, text);
      ArrayResize(text, m);
      for(int j = 0; j < m; j++)
         text[j] = (uchar)result[j];
      response_body = CharArrayToString(text, 0, m, CP_UTF8);
      // The offset was just corrected from X-Server-Time: sign again (new nonce) once.
      if(status != 401 || StringFind(response_body, "\"timestamp_out_of_window\"") < 0)
         break;
     }
   return status;
  }

#endif // EAGATE_SIGNER_MQH
