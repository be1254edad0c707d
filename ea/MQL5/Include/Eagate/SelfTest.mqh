//+------------------------------------------------------------------+
//| SelfTest.mqh: EagateSelfTest() checks the signer in the terminal  |
//| itself: HMAC-SHA256 against RFC 4231 (cases 1-4, 6, 7), then      |
//| every published vector of docs/test-vectors.json (generated into  |
//| TestVectors.mqh), step by step in the order docs/PROTOCOL.md      |
//| gives for finding where a port differs. Call it from OnInit().    |
//+------------------------------------------------------------------+
#ifndef EAGATE_SELFTEST_MQH
#define EAGATE_SELFTEST_MQH

#include "Portable.mqh"
#include "Signer.mqh"
#include "TestVectors.mqh"

//--- count bytes of one value.
void EagateSelfTestFill(ARRAY_REF(uchar, out), const int value, const int count)
  {
   ArrayFree(out);
   ArrayResize(out, count);
   for(int i = 0; i < count; i++)
      out[i] = (uchar)value;
  }

//--- One RFC 4231 case; false with why set when the HMAC differs.
bool EagateSelfTestRfc4231(const string name, const ARRAY_REF(uchar, key),
                           const ARRAY_REF(uchar, data), const string expected, string &why)
  {
   ARRAY(uchar, mac);
   if(!EagateHmacSha256(key, data, mac))
     {
      why = "HMAC-SHA256 (RFC 4231 " + name + ") could not be computed";
      return false;
     }
   string got = EagateHex(mac);
   if(got != expected)
     {
      why = "HMAC-SHA256 (RFC 4231 " + name + ") FAILED: " + got + ", expected " + expected;
      return false;
     }
   return true;
  }

bool EagateSelfTestHmac(string &why)
  {
   ARRAY(uchar, key);
   ARRAY(uchar, data);
   EagateSelfTestFill(key, 0x0b, 20);
   EagateUtf8("Hi There", data);
   if(!EagateSelfTestRfc4231("case 1", key, data,
                             "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", why))
      return false;
   EagateUtf8("Jefe", key);
   EagateUtf8("what do ya want for nothing?", data);
   if(!EagateSelfTestRfc4231("case 2", key, data,
                             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", why))
      return false;
   EagateSelfTestFill(key, 0xaa, 20);
   EagateSelfTestFill(data, 0xdd, 50);
   if(!EagateSelfTestRfc4231("case 3", key, data,
                             "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", why))
      return false;
   EagateSelfTestFill(key, 0, 25);
   for(int i = 0; i < 25; i++)
      key[i] = (uchar)(i + 1);
   EagateSelfTestFill(data, 0xcd, 50);
   if(!EagateSelfTestRfc4231("case 4", key, data,
                             "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", why))
      return false;
   EagateSelfTestFill(key, 0xaa, 131);
   EagateUtf8("Test Using Larger Than Block-Size Key - Hash Key First", data);
   if(!EagateSelfTestRfc4231("case 6", key, data,
                             "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", why))
      return false;
   string text = "This is a test using a larger than block-size key and a larger than block-size ";
   text += "data. The key needs to be hashed before being used by the HMAC algorithm.";
   EagateUtf8(text, data);
   if(!EagateSelfTestRfc4231("case 7", key, data,
                             "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", why))
      return false;
   return true;
  }

//--- One published vector, checked step by step.
bool EagateSelfTestVector(const EagateTestVector &v, string &why)
  {
   ARRAY(uchar, body);
   EagateUtf8(v.body, body);
   string body_hex = EagateHex(body);
   if(body_hex != v.body_hex)
     {
      why = "vector " + v.name + ": body bytes (UTF-8) " + body_hex + ", expected " + v.body_hex;
      return false;
     }
   string body_sha256 = EagateBodySha256(body);
   if(body_sha256 != v.body_sha256)
     {
      why = "vector " + v.name + ": body_sha256 " + body_sha256 + ", expected " + v.body_sha256;
      return false;
     }
   string canonical = EagateCanonical(v.method, v.path_and_query, v.device_id, v.timestamp,
                                      v.nonce, body);
   if(canonical != v.canonical)
     {
      why = "vector " + v.name + ": canonical string differs: " + canonical;
      return false;
     }
   ARRAY(uchar, key);
   ARRAY(uchar, message);
   ARRAY(uchar, mac);
   EagateUtf8(v.secret, key);
   EagateUtf8(canonical, message);
   if(!EagateHmacSha256(key, message, mac) || EagateHex(mac) != v.hmac_sha256_hex)
     {
      why = "vector " + v.name + ": hmac_sha256_hex " + EagateHex(mac) + ", expected " +
            v.hmac_sha256_hex;
      return false;
     }
   string signature = EagateSign(v.secret, canonical);
   if(signature != v.signature)
     {
      why = "vector " + v.name + ": signature " + signature + ", expected " + v.signature;
      return false;
     }
   return true;
  }

//--- true when the signer reproduces RFC 4231 and every published vector; otherwise false
//--- with why naming the first step that differs. Nonces are checked for form and change.
bool EagateSelfTest(string &why)
  {
   why = "";
   if(!EagateSelfTestHmac(why))
      return false;
   ARRAY(EagateTestVector, vectors);
   int n = EagateTestVectors(vectors);
   if(n != EAGATE_TEST_VECTOR_COUNT || n <= 0)
     {
      why = "no test vectors";
      return false;
     }
   for(int i = 0; i < n; i++)
      if(!EagateSelfTestVector(vectors[i], why))
         return false;
   string first = EagateNonce();
   string second = EagateNonce();
   if(StringLen(first) != 32 || first == second)
     {
      why = "nonce generator: " + first + ", then " + second;
      return false;
     }
   for(int k = 0; k < 32; k++)
     {
      ushort c = StringGetCharacter(first, k);
      if(!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
        {
         why = "nonce is not lowercase hex: " + first;
         return false;
        }
     }
   return true;
  }

#endif // EAGATE_SELFTEST_MQH
