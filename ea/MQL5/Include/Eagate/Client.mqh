//+------------------------------------------------------------------+
//| Client.mqh: the eagate device API over WebRequest                 |
//|                                                                  |
//| Protocol: docs/PROTOCOL.md (section 5: what the server answers    |
//| and what the device does). Signing: Signer.mqh.                  |
//|                                                                  |
//| Written in the part of MQL5 that is also C++17 under             |
//| ea/harness/mql5compat.h, so the file the harness compiles is the  |
//| file a trader copies into MQL5/Include/Eagate/.                  |
//+------------------------------------------------------------------+
#ifndef EAGATE_CLIENT_MQH
#define EAGATE_CLIENT_MQH

#include "Portable.mqh"
#include "Signer.mqh"
#include "Json.mqh"

//--- The request target of a device API endpoint: "/api/v1/device/" + "poll".
string EagateApi(const string endpoint)
  {
   return "/api/v1/device/" + endpoint;
  }

//--- What a request came to, and so what the caller does next.
#define EAGATE_OK          0   // 2xx: the body is the answer
#define EAGATE_REFUSED     1   // a 4xx that repeating cannot fix (404, 409, 413, 422): do not retry
#define EAGATE_LATER       2   // 429, 5xx, network failure: the client waits before the next try
#define EAGATE_STOPPED     3   // revoked, wrong id or secret, signer bug, URL not allowed: stop

//--- Backoff with full jitter (PROTOCOL.md section 5): random(0, min(cap, base * 2^n)) seconds.
#define EAGATE_BACKOFF_BASE_MS 1000
#define EAGATE_BACKOFF_CAP_MS  60000
//--- A Retry-After longer than this is cut to it: the EA keeps trying, just not sooner.
#define EAGATE_RETRY_AFTER_CAP_S 3600

//+------------------------------------------------------------------+
//| The value of one header in WebRequest's result_headers ("" when   |
//| absent). Header names are case-insensitive.                       |
//+------------------------------------------------------------------+
string EagateHeaderValue(const string headers, const string name)
  {
   string lower = "\n" + headers;
   StringToLower(lower);
   string wanted = "\n" + name + ":";
   StringToLower(wanted);
   int at = StringFind(lower, wanted);
   if(at < 0)
      return "";
   int start = at + StringLen(wanted);
   int end = StringFind(lower, "\n", start);
   // Positions in `lower` are those in "\n" + headers: one more than in headers.
   string value = StringSubstr(headers, start - 1, end < 0 ? -1 : end - start);
   StringReplace(value, "\r", "");
   StringTrimLeft(value);
   StringTrimRight(value);
   return value;
  }

//+------------------------------------------------------------------+
//| What a trader reads when the server refuses the device for good.  |
//+------------------------------------------------------------------+
string EagateStopMessage(const string code, const string detail)
  {
   if(code == "device_revoked")
      return "the device was revoked on the server: register a new device and attach the EA with its id and secret";
   if(code == "invalid_signature")
      return "the server does not accept this device id and secret: check InpDeviceId and InpSecret (was the secret rotated?)";
   if(code == "replayed_nonce")
      return "the server saw this EA's nonce before, twice in a row: its nonce generator repeats itself (reinstall the EA)";
   if(code == "timestamp_out_of_window")
      return "the server refused the corrected clock as well: check the PC's clock and time zone";
   if(code == "malformed_signature_headers")
      return "the server could not read the signing headers (a bug in the EA's signer): " + detail;
   return "the server refused the device (" + code + "): " + detail;
  }

//+------------------------------------------------------------------+
//| One device's session with the server.                             |
//+------------------------------------------------------------------+
class CEagateClient
  {
private:
   string            m_base;          // server root, without a trailing slash
   string            m_device_id;
   string            m_secret;
   int               m_failures;      // transient failures in a row (the backoff exponent)
   ulong             m_resume_ms;     // GetTickCount64() before which nothing is sent
   bool              m_stopped;
   string            m_stop_code;
   string            m_stop_message;
   int               m_status;        // HTTP status of the last answer, -1 for none
   int               m_error;         // GetLastError() after the last WebRequest returned -1
   string            m_code;          // problem code of the last failed answer
   string            m_detail;        // its detail, or what went wrong locally

   void              Stop(const string code, const string message);
   void              Backoff(void);
   void              WaitSeconds(const int seconds);
   void              ReadProblem(const string body);

public:
                     CEagateClient(void);
   void              Configure(const string base_url, const string device_id, const string secret);
   //--- One signed request. response_body receives the answer's body (2xx or not).
   int               Send(const string method, const string path_and_query, const string json_body,
                          const int timeout_ms, string &response_body);
   bool              Stopped(void) const { return m_stopped; }
   //--- False while a Retry-After or a backoff runs (or once stopped).
   bool              Ready(void) const;
   //--- Milliseconds until Ready() (0 when ready).
   long              WaitMs(void) const;
   string            StopCode(void) const { return m_stop_code; }
   string            StopMessage(void) const { return m_stop_message; }
   int               LastStatus(void) const { return m_status; }
   int               LastError(void) const { return m_error; }
   string            LastCode(void) const { return m_code; }
   string            LastDetail(void) const { return m_detail; }
   string            BaseUrl(void) const { return m_base; }
   //--- "code: detail" of the last failure, for the chart line and the journal.
   string            LastProblem(void) const;
  };

CEagateClient::CEagateClient(void)
  {
   m_base = "";
   m_device_id = "";
   m_secret = "";
   m_failures = 0;
   m_resume_ms = 0;
   m_stopped = false;
   m_stop_code = "";
   m_stop_message = "";
   m_status = -1;
   m_error = 0;
   m_code = "";
   m_detail = "";
  }

//--- A new session: whatever an earlier one learned (a stop, a backoff) is forgotten.
void CEagateClient::Configure(const string base_url, const string device_id, const string secret)
  {
   m_failures = 0;
   m_resume_ms = 0;
   m_stopped = false;
   m_stop_code = "";
   m_stop_message = "";
   m_status = -1;
   m_error = 0;
   m_code = "";
   m_detail = "";
   m_base = base_url;
   while(StringLen(m_base) > 0 && StringGetCharacter(m_base, StringLen(m_base) - 1) == '/')
      m_base = StringSubstr(m_base, 0, StringLen(m_base) - 1);
   m_device_id = device_id;
   m_secret = secret;
  }

bool CEagateClient::Ready(void) const
  {
   return !m_stopped && GetTickCount64() >= m_resume_ms;
  }

long CEagateClient::WaitMs(void) const
  {
   ulong now = GetTickCount64();
   if(now >= m_resume_ms)
      return 0;
   return (long)(m_resume_ms - now);
  }

string CEagateClient::LastProblem(void) const
  {
   if(m_code == "")
      return "";
   if(m_detail == "")
      return m_code;
   return m_code + ": " + m_detail;
  }

void CEagateClient::Stop(const string code, const string message)
  {
   m_stopped = true;
   m_stop_code = code;
   m_stop_message = message;
  }

void CEagateClient::Backoff(void)
  {
   // Full jitter: a fleet that lost the server at the same moment does not return in step.
   int exponent = m_failures < 16 ? m_failures : 16;
   long ceiling = (long)EAGATE_BACKOFF_BASE_MS << exponent;
   if(ceiling > EAGATE_BACKOFF_CAP_MS)
      ceiling = EAGATE_BACKOFF_CAP_MS;
   long delay = (long)(ceiling * (MathRand() / 32767.0));
   m_failures++;
   m_resume_ms = GetTickCount64() + (ulong)delay;
  }

void CEagateClient::WaitSeconds(const int seconds)
  {
   int s = seconds;
   if(s > EAGATE_RETRY_AFTER_CAP_S)
      s = EAGATE_RETRY_AFTER_CAP_S;
   m_failures++;
   m_resume_ms = GetTickCount64() + (ulong)s * 1000;
  }

//--- code and detail of a problem+json body; "http_<status>" when the body is not one (a proxy).
void CEagateClient::ReadProblem(const string body)
  {
   m_code = "";
   m_detail = "";
   JsonDoc doc;
   if(JsonParse(body, doc))
     {
      JsonGetString(doc, "code", m_code);
      JsonGetString(doc, "detail", m_detail);
      // server_time in the body: the same correction as X-Server-Time, for a proxy that drops
      // headers.
      long server_time = 0;
      if(JsonGetLong(doc, "server_time", server_time) && server_time > 0)
         g_eagate_clock_offset = server_time - (long)TimeGMT();
     }
   if(m_code == "")
      m_code = "http_" + IntegerToString(m_status);
  }

int CEagateClient::Send(const string method, const string path_and_query, const string json_body,
                        const int timeout_ms, string &response_body)
  {
   response_body = "";
   if(m_stopped)
      return EAGATE_STOPPED;
   if(!Ready())
      return EAGATE_LATER;

   // The body's bytes are built once: the hash signs exactly the bytes WebRequest sends.
   ARRAY(uchar, body);
   int n = EagateUtf8(json_body, body);
   ARRAY(char, data);
   ArrayResize(data, n);
   for(int i = 0; i < n; i++)
      data[i] = (char)body[i];

   bool clock_retried = false;
   bool nonce_retried = false;
   while(true)
     {
      // A fresh timestamp and nonce for every attempt.
      string headers = EagateHeaders(m_device_id, m_secret, method, path_and_query, body);
      if(headers == "")
        {
         Stop("signing_failed", "could not sign a request (CryptEncode failed)");
         return EAGATE_STOPPED;
        }
      ARRAY(char, result);
      string result_headers = "";
      ResetLastError();
      int status = WebRequest(method, m_base + path_and_query, headers, timeout_ms, data, result,
                              result_headers);
      m_status = status;
      if(status == -1)
        {
         m_error = GetLastError();
         if(m_error == 4014)
           {
            m_code = "url_not_allowed";
            m_detail = "add " + m_base +
                       " under Tools > Options > Expert Advisors > Allow WebRequest for listed URL";
            Stop(m_code, m_detail);
            return EAGATE_STOPPED;
           }
         m_code = "network";
         m_detail = "WebRequest failed, error " + IntegerToString(m_error);
         Backoff();
         return EAGATE_LATER;
        }
      m_error = 0;
      EagateLearnServerTime(result_headers);
      int size = ArraySize(result);
      ARRAY(uchar, bytes);
      ArrayResize(bytes, size);
      for(int j = 0; j < size; j++)
         bytes[j] = (uchar)result[j];
      response_body = size > 0 ? CharArrayToString(bytes, 0, size, CP_UTF8) : "";

      if(status >= 200 && status < 300)
        {
         m_failures = 0;
         m_code = "";
         m_detail = "";
         return EAGATE_OK;
        }
      ReadProblem(response_body);
      if(status == 401)
        {
         // The offset was just corrected from X-Server-Time: sign again, once.
         if(m_code == "timestamp_out_of_window" && !clock_retried)
           {
            clock_retried = true;
            continue;
           }
         if(m_code == "replayed_nonce" && !nonce_retried)
           {
            nonce_retried = true;
            continue;
           }
         Stop(m_code, EagateStopMessage(m_code, m_detail));
         return EAGATE_STOPPED;
        }
      if(status == 429 || status == 503)
        {
         string retry_after = EagateHeaderValue(result_headers, "Retry-After");
         long seconds = StringToInteger(retry_after);
         if(StringLen(retry_after) > 0 && seconds >= 0 &&
            IntegerToString(seconds) == retry_after)
            WaitSeconds((int)seconds);
         else
            Backoff();
         return EAGATE_LATER;
        }
      if(status >= 500)
        {
         Backoff();
         return EAGATE_LATER;
        }
      return EAGATE_REFUSED;
     }
   return EAGATE_LATER;
  }

#endif // EAGATE_CLIENT_MQH
