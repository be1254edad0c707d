// Runs the shipped signer through the harness: EagateSelfTest(), then prints what the include
// computes for every vector (tests/ea compares it byte for byte with docs/test-vectors.json),
// and one set of signed headers made with a fixed, corrected clock (verified in Python with the
// server's own signing code). Exit status: 0 when the self-test passes, 1 when it fails.
//
//   selftest_driver            (compiled with -I ea/harness -I ea/MQL5/Include)
#include "mql5compat.h"

#include "Eagate/SelfTest.mqh"

static std::string hex_of(const std::string &bytes) {
  static const char *digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

int main() {
  mql5h::output().echo = false;
  string why;
  bool ok = EagateSelfTest(why);
  std::printf("selftest\t%s\t%s\n", ok ? "ok" : "FAILED", why.utf8().c_str());

  ARRAY(EagateTestVector, vectors);
  int n = EagateTestVectors(vectors);
  for (int i = 0; i < n; i++) {
    EagateTestVector &v = vectors[i];
    ARRAY(uchar, body);
    EagateUtf8(v.body, body);
    std::string name = v.name.utf8();
    std::printf("vector\t%s\tbody_hex\t%s\n", name.c_str(), EagateHex(body).utf8().c_str());
    std::printf("vector\t%s\tbody_sha256\t%s\n", name.c_str(), EagateBodySha256(body).utf8().c_str());
    string canonical = EagateCanonical(v.method, v.path_and_query, v.device_id, v.timestamp, v.nonce, body);
    std::printf("vector\t%s\tcanonical_hex\t%s\n", name.c_str(), hex_of(canonical.utf8()).c_str());
    ARRAY(uchar, key);
    ARRAY(uchar, message);
    ARRAY(uchar, mac);
    EagateUtf8(v.secret, key);
    EagateUtf8(canonical, message);
    EagateHmacSha256(key, message, mac);
    std::printf("vector\t%s\thmac_sha256_hex\t%s\n", name.c_str(), EagateHex(mac).utf8().c_str());
    std::printf("vector\t%s\tsignature\t%s\n", name.c_str(), EagateSign(v.secret, canonical).utf8().c_str());
  }

  // Signed headers for vector 3's request, with TimeGMT() = 1795773600, a broker two hours
  // ahead (TimeCurrent must not be used) and a server 1,000 s ahead (learned from a response).
  mql5h::set_gmt(1795773600);
  mql5h::clock().broker_offset = 7200;
  EagateLearnServerTime("Date: Fri, 27 Nov 2026 10:16:40 GMT\r\nx-SERVER-time: 1795774600\r\n");
  EagateTestVector &v = vectors[2];
  ARRAY(uchar, body);
  EagateUtf8(v.body, body);
  string headers = EagateHeaders(v.device_id, v.secret, "POST", "/api/v1/device/ack", body);
  std::printf("headers\t%s\n", hex_of(headers.utf8()).c_str());
  return ok ? 0 : 1;
}
