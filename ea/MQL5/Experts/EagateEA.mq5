//+------------------------------------------------------------------+
//| EagateEA.mq5: receives eagate signals and trades them             |
//|                                                                  |
//| Trader's guide: docs/EA.md. Protocol: docs/PROTOCOL.md.           |
//|                                                                  |
//| Before the first attach, add the server's URL under              |
//| Tools > Options > Expert Advisors > Allow WebRequest for listed  |
//| URL: a program cannot do it itself (error 4014 otherwise).       |
//|                                                                  |
//| Written in the part of MQL5 that is also C++17 under             |
//| ea/harness/mql5compat.h: the harness compiles this very file.    |
//+------------------------------------------------------------------+
#ifdef __MQL5__
#property copyright   "eagate"
#property version     "1.00"
#property description "Trades the signals an eagate server sends to this device."
#property description "Add the server URL under Tools > Options > Expert Advisors first."
#endif

#include <Trade/Trade.mqh>
#include <Eagate/Client.mqh>
#include <Eagate/SelfTest.mqh>

input string InpServer       = "https://eagate.example.com"; // Server URL (allow it under Tools > Options > Expert Advisors)
input string InpDeviceId     = "";     // Device id (from the dashboard)
input string InpSecret       = "";     // Device secret (64 characters, shown once)
input int    InpPollWait     = 25;     // Long-poll wait, seconds (0-30; 0 = short polls)
input long   InpMagic        = 7100;   // Magic number of this EA's orders
input int    InpSlippage     = 10;     // Maximum slippage, points
input double InpMaxVolume    = 0.0;    // Maximum volume per order, lots (0 = the symbol's maximum)
input string InpSymbolSuffix = "";     // Appended to each signal's instrument (e.g. ".pro")

//--- Journal states of a signal (one line each, appended and flushed, in the file below).
#define EA_SEEN   1   // about to be sent to the broker: written BEFORE the order
#define EA_DONE   2   // outcome known; the ack body to send (the same bytes until a 200)
#define EA_ACKED  3   // the server answered the ack: nothing left to do
//--- Acked signals kept in the journal when it is compacted (at start, past twice as many).
#define EA_JOURNAL_KEEP 1000

//--- Orders carry "eagate " + 16 hex of a hash of the signal id (EaOrderComment): MT5 keeps about
//--- 31 characters of a comment, too few for the id itself, enough to find what a restarted EA
//--- already placed.
#define EA_COMMENT_PREFIX "eagate "

struct EaJournalEntry
  {
   string            signal_id;
   int               state;
   string            ack_body;
   string            outcome;      // "placed #123", "failed: ...": for the chart line and logs
  };

struct EaSignal
  {
   string            signal_id;
   string            instrument;
   string            side;
   string            order_type;
   string            volume;       // numbers kept as the server's text, read where needed
   string            price;        // "" when null
   string            sl;
   string            tp;
   string            expires_at;
   long              attempt;
  };

CEagateClient g_client;
CTrade        g_trade;
ARRAY(EaJournalEntry, g_journal);
int           g_journal_handle = INVALID_HANDLE;
string        g_journal_name = "";
bool          g_active = false;        // initialised outside the Strategy Tester
bool          g_busy = false;          // OnTimer re-entry guard
bool          g_resolved = false;      // interrupted signals looked up after the start
bool          g_connected = false;
bool          g_trading_off = false;   // Algo Trading disabled: not polling
bool          g_broker_off = false;    // no connection to the trade server: not polling
string        g_device_name = "";
datetime      g_last_poll = 0;         // local time of the last answered poll
long          g_next_poll_ms = 0;      // short polls: not before this GetTickCount64()
string        g_last_signal = "";
string        g_last_error = "";
int           g_acks_answered = 0;     // acks the server answered this run (the harness reads it)
int           g_signals_handled = 0;

//+------------------------------------------------------------------+
//| Small helpers                                                    |
//+------------------------------------------------------------------+
bool EaIsHex(const string text, const bool lower_only)
  {
   int n = StringLen(text);
   for(int i = 0; i < n; i++)
     {
      ushort c = StringGetCharacter(text, i);
      bool digit = c >= '0' && c <= '9';
      bool lower = c >= 'a' && c <= 'f';
      bool upper = c >= 'A' && c <= 'F';
      if(!digit && !lower && !(upper && !lower_only))
         return false;
     }
   return true;
  }

bool EaIsUuid(const string text)
  {
   if(StringLen(text) != 36)
      return false;
   for(int i = 0; i < 36; i++)
     {
      ushort c = StringGetCharacter(text, i);
      if(i == 8 || i == 13 || i == 18 || i == 23)
        {
         if(c != '-')
            return false;
        }
      else
         if(!EaIsHex(ShortToString(c), false))
            return false;
     }
   return true;
  }

string EaTrimmed(const string text)
  {
   string out = text;
   StringTrimLeft(out);
   StringTrimRight(out);
   return out;
  }

//--- Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
long EaDaysFromCivil(long y, const long m, const long d)
  {
   if(m <= 2)
      y -= 1;
   long era = (y >= 0 ? y : y - 399) / 400;
   long yoe = y - era * 400;
   long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
   long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
   return era * 146097 + doe - 719468;
  }

//--- "2026-11-29T17:36:46.584034Z" (or +00:00) as unix seconds; -1 if it is not that form.
long EaParseUtc(const string text)
  {
   int n = StringLen(text);
   if(n < 20)
      return -1;
   string pattern = "dddd-dd-ddTdd:dd:dd";
   for(int i = 0; i < 19; i++)
     {
      ushort want = StringGetCharacter(pattern, i);
      ushort c = StringGetCharacter(text, i);
      if(want == 'd')
        {
         if(c < '0' || c > '9')
            return -1;
        }
      else
         if(c != want)
            return -1;
     }
   string zone = StringSubstr(text, n - 1);
   if(zone != "Z" && StringSubstr(text, n - 6) != "+00:00")
      return -1;
   long year = StringToInteger(StringSubstr(text, 0, 4));
   long month = StringToInteger(StringSubstr(text, 5, 2));
   long day = StringToInteger(StringSubstr(text, 8, 2));
   long hour = StringToInteger(StringSubstr(text, 11, 2));
   long minute = StringToInteger(StringSubstr(text, 14, 2));
   long second = StringToInteger(StringSubstr(text, 17, 2));
   if(month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
      return -1;
   return EaDaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  }

//--- Unix seconds as "2026-11-29T17:36:46Z" (civil_from_days, the inverse of the above).
string EaFormatUtc(const long unix_seconds)
  {
   long days = unix_seconds / 86400;
   long rest = unix_seconds - days * 86400;
   if(rest < 0)
     {
      rest += 86400;
      days -= 1;
     }
   long z = days + 719468;
   long era = (z >= 0 ? z : z - 146096) / 146097;
   long doe = z - era * 146097;
   long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
   long y = yoe + era * 400;
   long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
   long mp = (5 * doy + 2) / 153;
   long d = doy - (153 * mp + 2) / 5 + 1;
   long m = mp + (mp < 10 ? 3 : -9);
   if(m <= 2)
      y += 1;
   return StringFormat("%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, (int)m, (int)d,
                       (int)(rest / 3600), (int)((rest % 3600) / 60), (int)(rest % 60));
  }

//--- The order comment of a signal: EA_COMMENT_PREFIX + 16 hex of SHA-256(signal_id "|" device
//--- id). The device id keeps two EAs of one account (two devices, both sent the signal) from
//--- taking each other's order for their own after a restart.
string EaOrderComment(const string signal_id)
  {
   ARRAY(uchar, bytes);
   ARRAY(uchar, digest);
   EagateUtf8(signal_id + "|" + EaTrimmed(InpDeviceId), bytes);
   if(!EagateSha256(bytes, digest))
      return EA_COMMENT_PREFIX;
   return EA_COMMENT_PREFIX + StringSubstr(EagateHex(digest), 0, 16);
  }

string EaShort(const string signal_id)
  {
   return StringSubstr(signal_id, 0, 8);
  }

//+------------------------------------------------------------------+
//| Inputs                                                           |
//+------------------------------------------------------------------+
//--- "" when the inputs are usable, else what to fix.
string EaCheckInputs(void)
  {
   string server = EaTrimmed(InpServer);
   if(StringFind(server, "https://") != 0 && StringFind(server, "http://") != 0)
      return "InpServer must start with https:// (e.g. https://eagate.example.com)";
   if(StringFind(server, "?") >= 0 || StringFind(server, "#") >= 0 || StringFind(server, " ") >= 0)
      return "InpServer must be the server's root URL, without a query";
   if(!EaIsUuid(EaTrimmed(InpDeviceId)))
      return "InpDeviceId must be the device id shown in the dashboard (a UUID such as 0193a8f2-7c4e-7b21-9f3d-2a6c8e1b5d40)";
   string secret = EaTrimmed(InpSecret);
   // Not echoed: the value may be a real secret with a typo in it.
   if(StringLen(secret) != 64 || !EaIsHex(secret, true))
      return "InpSecret must be the 64 lowercase hex characters shown when the device was registered (or its secret rotated)";
   if(InpPollWait < 0 || InpPollWait > 30)
      return "InpPollWait must be between 0 and 30 seconds";
   if(InpMagic < 0)
      return "InpMagic must not be negative";
   if(InpSlippage < 0)
      return "InpSlippage must not be negative";
   if(InpMaxVolume < 0)
      return "InpMaxVolume must be 0 (no cap) or a positive number of lots";
   int n = StringLen(InpSymbolSuffix);
   for(int i = 0; i < n; i++)
     {
      ushort c = StringGetCharacter(InpSymbolSuffix, i);
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '#' || c == '-';
      if(!ok)
         return "InpSymbolSuffix may only hold letters, digits and . _ # -";
     }
   return "";
  }

//+------------------------------------------------------------------+
//| Journal: MQL5/Files/eagate-journal-<device id>.txt                |
//| One UTF-8 line per step, tab-separated, appended and flushed:     |
//|   seen <id>   |   done <id> <ack body>   |   acked <id> <status>  |
//+------------------------------------------------------------------+
int EaJournalFind(const string signal_id)
  {
   for(int i = ArraySize(g_journal) - 1; i >= 0; i--)
      if(g_journal[i].signal_id == signal_id)
         return i;
   return -1;
  }

int EaJournalEntryFor(const string signal_id)
  {
   int at = EaJournalFind(signal_id);
   if(at >= 0)
      return at;
   at = ArraySize(g_journal);
   ArrayResize(g_journal, at + 1);
   g_journal[at].signal_id = signal_id;
   g_journal[at].state = 0;
   g_journal[at].ack_body = "";
   g_journal[at].outcome = "";
   return at;
  }

//--- Apply one journal line to memory. False when the line is not one of ours.
bool EaJournalApply(const string line)
  {
   int tab1 = StringFind(line, "\t");
   if(tab1 <= 0)
      return false;
   string kind = StringSubstr(line, 0, tab1);
   int tab2 = StringFind(line, "\t", tab1 + 1);
   string id = tab2 < 0 ? StringSubstr(line, tab1 + 1) : StringSubstr(line, tab1 + 1, tab2 - tab1 - 1);
   string rest = tab2 < 0 ? "" : StringSubstr(line, tab2 + 1);
   if(!EaIsUuid(id))
      return false;
   int at = EaJournalEntryFor(id);
   if(kind == "seen")
     {
      if(g_journal[at].state < EA_SEEN)
         g_journal[at].state = EA_SEEN;
      return true;
     }
   if(kind == "done" && rest != "")
     {
      g_journal[at].state = EA_DONE;
      g_journal[at].ack_body = rest;
      g_journal[at].outcome = StringFind(rest, "\"placed\"") >= 0 ? "placed" : "failed";
      return true;
     }
   if(kind == "acked")
     {
      g_journal[at].state = EA_ACKED;
      return true;
     }
   return false;
  }

//--- Read the journal into memory. False (with g_last_error) if it exists but cannot be read.
bool EaJournalLoad(void)
  {
   ArrayResize(g_journal, 0);
   if(!FileIsExist(g_journal_name))
      return true;
   int reader = FileOpen(g_journal_name, FILE_READ | FILE_TXT | FILE_ANSI | FILE_SHARE_READ, '\t', CP_UTF8);
   if(reader == INVALID_HANDLE)
     {
      g_last_error = "cannot read the journal " + g_journal_name + ", error " +
                     IntegerToString(GetLastError());
      return false;
     }
   int unread = 0;
   while(!FileIsEnding(reader))
     {
      string line = FileReadString(reader);
      StringReplace(line, "\r", "");
      if(line == "")
         continue;
      // A line cut short by a crash mid-write is skipped: the step it recorded had not
      // happened yet (every line is flushed before the step it announces).
      if(!EaJournalApply(line))
         unread++;
     }
   FileClose(reader);
   if(unread > 0)
      Print("eagate: skipped " + IntegerToString(unread) + " unreadable journal line(s)");
   return true;
  }

//--- Rewrite the journal with what still matters: every signal not yet acked and the newest
//--- EA_JOURNAL_KEEP acked ones (a redelivery of an older one is not expected: the server had
//--- answered its ack). Written beside the journal and moved over it, so a crash leaves one or
//--- the other, never half of one.
bool EaJournalCompact(void)
  {
   string fresh = g_journal_name + ".new";
   int writer = FileOpen(fresh, FILE_WRITE | FILE_TXT | FILE_ANSI, '\t', CP_UTF8);
   if(writer == INVALID_HANDLE)
      return false;
   int n = ArraySize(g_journal);
   int acked = 0;
   int i;
   for(i = 0; i < n; i++)
      if(g_journal[i].state == EA_ACKED)
         acked++;
   int drop = acked - EA_JOURNAL_KEEP;
   bool ok = true;
   for(i = 0; i < n && ok; i++)
     {
      string id = g_journal[i].signal_id;
      if(g_journal[i].state == EA_ACKED)
        {
         if(drop > 0)
           {
            drop--;
            continue;
           }
         ok = FileWriteString(writer, "acked\t" + id + "\tkept\r\n") > 0;
         continue;
        }
      ok = FileWriteString(writer, "seen\t" + id + "\r\n") > 0;
      if(ok && g_journal[i].state == EA_DONE)
         ok = FileWriteString(writer, "done\t" + id + "\t" + g_journal[i].ack_body + "\r\n") > 0;
     }
   FileFlush(writer);
   FileClose(writer);
   if(!ok || !FileMove(fresh, 0, g_journal_name, FILE_REWRITE))
     {
      FileDelete(fresh);
      return false;
     }
   return EaJournalLoad();
  }

bool EaJournalOpen(void)
  {
   g_journal_name = "eagate-journal-" + EaTrimmed(InpDeviceId) + ".txt";
   if(!EaJournalLoad())
      return false;
   if(ArraySize(g_journal) > 2 * EA_JOURNAL_KEEP && !EaJournalCompact())
      Print("eagate: could not compact the journal " + g_journal_name + " (it keeps growing), error " +
            IntegerToString(GetLastError()));
   g_journal_handle = FileOpen(g_journal_name, FILE_READ | FILE_WRITE | FILE_TXT | FILE_ANSI |
                               FILE_SHARE_READ, '\t', CP_UTF8);
   if(g_journal_handle == INVALID_HANDLE)
     {
      g_last_error = "cannot write the journal " + g_journal_name + ", error " +
                     IntegerToString(GetLastError());
      return false;
     }
   FileSeek(g_journal_handle, 0, SEEK_END);
   return true;
  }

//--- Append one line and flush it to disk before going on. False if that failed.
bool EaJournalWrite(const string kind, const string signal_id, const string rest)
  {
   if(g_journal_handle == INVALID_HANDLE)
      return false;
   string line = kind + "\t" + signal_id;
   if(rest != "")
      line += "\t" + rest;
   line += "\r\n";
   ResetLastError();
   uint written = FileWriteString(g_journal_handle, line);
   FileFlush(g_journal_handle);
   if(written == 0 || GetLastError() != 0)
     {
      g_last_error = "journal write failed, error " + IntegerToString(GetLastError());
      return false;
     }
   return EaJournalApply(kind + "\t" + signal_id + (rest != "" ? "\t" + rest : ""));
  }

//+------------------------------------------------------------------+
//| Acks                                                             |
//+------------------------------------------------------------------+
string EaAckPlaced(const string signal_id, const string ticket)
  {
   return "{\"signal_id\":" + JsonQuote(signal_id) + ",\"status\":\"placed\"," +
          "\"broker_ticket\":" + JsonQuote(ticket) + ",\"executed_at\":" +
          JsonQuote(EaFormatUtc(EagateNow())) + "}";
  }

string EaAckFailed(const string signal_id, const string error)
  {
   string text = error;
   if(StringLen(text) > 1000)
      text = StringSubstr(text, 0, 1000);
   return "{\"signal_id\":" + JsonQuote(signal_id) + ",\"status\":\"failed\"," +
          "\"error\":" + JsonQuote(text) + "}";
  }

//--- Send the journaled ack of entry `at`. False if it is still unanswered (try again later).
bool EaSendAck(const int at)
  {
   string answer;
   int outcome = g_client.Send("POST", EagateApi("ack"), g_journal[at].ack_body, 10000,
                               answer);
   if(outcome == EAGATE_OK || outcome == EAGATE_REFUSED)
     {
      if(outcome == EAGATE_REFUSED)
        {
         // 404, 409 (a different ack stands), 422: repeating the same bytes cannot help.
         g_last_error = "ack of " + EaShort(g_journal[at].signal_id) + " refused: " +
                        g_client.LastProblem();
         Print("eagate: " + g_last_error);
        }
      g_acks_answered++;
      EaJournalWrite("acked", g_journal[at].signal_id, IntegerToString(g_client.LastStatus()));
      return true;
     }
   g_last_error = "ack of " + EaShort(g_journal[at].signal_id) + " not answered: " +
                  g_client.LastProblem();
   return false;
  }

//--- Journal the outcome, then ack it. The body is kept: a retry sends the same bytes.
void EaFinish(const string signal_id, const string ack_body, const string outcome)
  {
   g_last_signal = EaShort(signal_id) + " " + outcome;
   Print("eagate: signal " + signal_id + " " + outcome);
   if(!EaJournalWrite("done", signal_id, ack_body))
      Print("eagate: " + g_last_error);
   int at = EaJournalFind(signal_id);
   if(at >= 0)
     {
      g_journal[at].ack_body = ack_body;
      g_journal[at].outcome = outcome;
      g_journal[at].state = EA_DONE;
      EaSendAck(at);
     }
  }

//--- Unanswered acks, oldest first. False while some remain.
bool EaSendPendingAcks(void)
  {
   int n = ArraySize(g_journal);
   for(int i = 0; i < n; i++)
     {
      if(g_journal[i].state != EA_DONE)
         continue;
      if(!g_client.Ready())
         return false;
      if(!EaSendAck(i))
         return false;
     }
   return true;
  }

//+------------------------------------------------------------------+
//| The terminal                                                     |
//+------------------------------------------------------------------+
//--- The ticket of what this EA already placed for a signal ("" if nothing): open positions,
//--- pending orders, then history, matched by magic number and comment.
string EaFindPlaced(const string signal_id)
  {
   string comment = EaOrderComment(signal_id);
   int i;
   for(i = PositionsTotal() - 1; i >= 0; i--)
     {
      ulong ticket = PositionGetTicket(i);
      if(ticket == 0)
         continue;
      if(PositionGetInteger(POSITION_MAGIC) == InpMagic &&
         PositionGetString(POSITION_COMMENT) == comment)
         return IntegerToString((long)ticket);
     }
   for(i = OrdersTotal() - 1; i >= 0; i--)
     {
      ulong ticket = OrderGetTicket(i);
      if(ticket == 0)
         continue;
      if(OrderGetInteger(ORDER_MAGIC) == InpMagic && OrderGetString(ORDER_COMMENT) == comment)
         return IntegerToString((long)ticket);
     }
   if(!HistorySelect(0, TimeCurrent() + 86400))
      return "";
   for(i = HistoryDealsTotal() - 1; i >= 0; i--)
     {
      ulong deal = HistoryDealGetTicket(i);
      if(deal == 0)
         continue;
      if(HistoryDealGetInteger(deal, DEAL_MAGIC) == InpMagic &&
         HistoryDealGetInteger(deal, DEAL_ENTRY) == DEAL_ENTRY_IN &&
         HistoryDealGetString(deal, DEAL_COMMENT) == comment)
         return IntegerToString(HistoryDealGetInteger(deal, DEAL_POSITION_ID));
     }
   for(i = HistoryOrdersTotal() - 1; i >= 0; i--)
     {
      ulong order = HistoryOrderGetTicket(i);
      if(order == 0)
         continue;
      if(HistoryOrderGetInteger(order, ORDER_MAGIC) == InpMagic &&
         HistoryOrderGetString(order, ORDER_COMMENT) == comment)
         return IntegerToString((long)order);
     }
   return "";
  }

//--- Decimal places of a volume step (0.01 -> 2).
int EaStepDigits(const double step)
  {
   int digits = 0;
   double scaled = step;
   while(digits < 8 && MathAbs(scaled - MathRound(scaled)) > 1e-9)
     {
      scaled *= 10;
      digits++;
     }
   return digits;
  }

//--- The volume to send: capped at InpMaxVolume and the symbol's maximum, rounded DOWN to the
//--- symbol's step. 0 with `error` set when that is below the symbol's minimum.
double EaVolume(const string symbol, const double wanted, string &error)
  {
   double step = SymbolInfoDouble(symbol, SYMBOL_VOLUME_STEP);
   double minimum = SymbolInfoDouble(symbol, SYMBOL_VOLUME_MIN);
   double maximum = SymbolInfoDouble(symbol, SYMBOL_VOLUME_MAX);
   if(step <= 0 || minimum <= 0 || maximum <= 0)
     {
      error = "the terminal gives no volume limits for " + symbol;
      return 0;
     }
   double volume = wanted;
   if(InpMaxVolume > 0 && volume > InpMaxVolume)
      volume = InpMaxVolume;
   if(volume > maximum)
      volume = maximum;
   volume = NormalizeDouble(MathFloor(volume / step + 1e-7) * step, EaStepDigits(step));
   if(volume < minimum - 1e-9)
     {
      error = "volume " + DoubleToString(wanted, 8) + " is below " + symbol + "'s minimum of " +
              DoubleToString(minimum, EaStepDigits(step)) + " lots after rounding to its step " +
              DoubleToString(step, EaStepDigits(step));
      return 0;
     }
   return volume;
  }

//--- A price the trade server accepts: rounded to the nearest whole tick (SYMBOL_TRADE_TICK_SIZE,
//--- e.g. 0.25 on index CFDs quoted with 2 digits), then to the symbol's digits; 0 stays 0.
double EaPrice(const string symbol, const double value, const int digits)
  {
   if(value == 0.0)
      return 0.0;
   double tick = SymbolInfoDouble(symbol, SYMBOL_TRADE_TICK_SIZE);
   if(tick <= 0)
      return NormalizeDouble(value, digits);
   return NormalizeDouble(MathRound(value / tick) * tick, digits);
  }

//--- The filling mode the symbol allows: FOK, else IOC, else RETURN (pending orders: RETURN).
ENUM_ORDER_TYPE_FILLING EaFilling(const string symbol, const bool market)
  {
   if(!market)
      return ORDER_FILLING_RETURN;
   long modes = SymbolInfoInteger(symbol, SYMBOL_FILLING_MODE);
   if((modes & SYMBOL_FILLING_FOK) == SYMBOL_FILLING_FOK)
      return ORDER_FILLING_FOK;
   if((modes & SYMBOL_FILLING_IOC) == SYMBOL_FILLING_IOC)
      return ORDER_FILLING_IOC;
   return ORDER_FILLING_RETURN;
  }

//--- Place the order of a signal. True with `ticket` (the position's for a market order, the
//--- order's for a pending one), or false with `error` for the failed ack.
bool EaExecute(const EaSignal &signal, string &ticket, string &error)
  {
   ticket = "";
   error = "";
   long expires = EaParseUtc(signal.expires_at);
   if(expires < 0)
     {
      error = "unreadable expires_at " + signal.expires_at + ": not executed";
      return false;
     }
   long now = EagateNow();
   if(expires <= now)
     {
      error = "expired at " + signal.expires_at + " before it could be executed (server time " +
              EaFormatUtc(now) + "): not executed";
      return false;
     }
   string symbol = signal.instrument + InpSymbolSuffix;
   if(!SymbolSelect(symbol, true))
     {
      error = "symbol " + symbol + " is not available in this terminal";
      return false;
     }
   int digits = (int)SymbolInfoInteger(symbol, SYMBOL_DIGITS);
   double volume = EaVolume(symbol, StringToDouble(signal.volume), error);
   if(volume <= 0)
      return false;
   double price = signal.price == "" ? 0.0 : EaPrice(symbol, StringToDouble(signal.price), digits);
   double sl = signal.sl == "" ? 0.0 : EaPrice(symbol, StringToDouble(signal.sl), digits);
   double tp = signal.tp == "" ? 0.0 : EaPrice(symbol, StringToDouble(signal.tp), digits);
   bool buy = signal.side == "buy";
   bool market = signal.order_type == "market";
   if(!buy && signal.side != "sell")
     {
      error = "unknown side " + signal.side;
      return false;
     }
   if(!market && signal.order_type != "limit" && signal.order_type != "stop")
     {
      error = "unknown order_type " + signal.order_type;
      return false;
     }
   if(!market && price <= 0)
     {
      error = "a " + signal.order_type + " order needs a price";
      return false;
     }
   string comment = EaOrderComment(signal.signal_id);
   g_trade.SetTypeFilling(EaFilling(symbol, market));
   bool sent;
   if(market)
      sent = buy ? g_trade.Buy(volume, symbol, 0.0, sl, tp, comment)
             : g_trade.Sell(volume, symbol, 0.0, sl, tp, comment);
   else
      if(signal.order_type == "limit")
         sent = buy ? g_trade.BuyLimit(volume, price, symbol, sl, tp, ORDER_TIME_GTC, 0, comment)
                : g_trade.SellLimit(volume, price, symbol, sl, tp, ORDER_TIME_GTC, 0, comment);
      else
         sent = buy ? g_trade.BuyStop(volume, price, symbol, sl, tp, ORDER_TIME_GTC, 0, comment)
                : g_trade.SellStop(volume, price, symbol, sl, tp, ORDER_TIME_GTC, 0, comment);
   uint retcode = g_trade.ResultRetcode();
   bool accepted = retcode == TRADE_RETCODE_DONE || retcode == TRADE_RETCODE_DONE_PARTIAL ||
                   retcode == TRADE_RETCODE_PLACED;
   if(!sent || !accepted)
     {
      error = "retcode " + IntegerToString(retcode) + ": " + g_trade.ResultRetcodeDescription();
      return false;
     }
   ulong placed = g_trade.ResultOrder();
   ulong deal = g_trade.ResultDeal();
   // MT5 tickets orders, deals and positions apart: a filled market order is known by its
   // position from then on.
   if(market && deal > 0 && HistoryDealSelect(deal))
     {
      long position = HistoryDealGetInteger(deal, DEAL_POSITION_ID);
      if(position > 0)
         placed = (ulong)position;
     }
   if(placed == 0)
     {
      error = "the broker accepted the order but returned no ticket (retcode " +
              IntegerToString(retcode) + ")";
      return false;
     }
   ticket = IntegerToString((long)placed);
   return true;
  }

//+------------------------------------------------------------------+
//| Signals                                                          |
//+------------------------------------------------------------------+
//--- The text of member `key` of object node `node`: a string's value or a number's text, ""
//--- when absent or null.
string EaMember(const JsonDoc &doc, const int node, const string key)
  {
   string value = "";
   if(JsonGetString(doc, node, key, value) || JsonGetNumber(doc, node, key, value))
      return value;
   return "";
  }

void EaHandleSignal(const EaSignal &signal)
  {
   g_signals_handled++;
   int at = EaJournalFind(signal.signal_id);
   if(at >= 0 && g_journal[at].state >= EA_DONE)
     {
      // Delivered again (its lease ran out before our ack arrived): ack again, same bytes.
      if(g_journal[at].ack_body == "")
         return;   // kept by a compaction without its body: the server had answered its ack
      if(g_journal[at].state == EA_ACKED)
         g_journal[at].state = EA_DONE;
      EaSendAck(at);
      return;
     }
   if(at >= 0)
     {
      // Journaled but no outcome: the EA stopped between the journal and the order's result.
      string found = EaFindPlaced(signal.signal_id);
      if(found != "")
        {
         EaFinish(signal.signal_id, EaAckPlaced(signal.signal_id, found),
                  "placed #" + found + " (found after a restart)");
         return;
        }
      // Nothing reached the broker under this signal's comment: execute it now.
     }
   else
      if(!EaJournalWrite("seen", signal.signal_id, ""))
        {
         // Never trade what could not be journaled: a restart would not know of it. The server
         // delivers the signal again after its lease.
         Print("eagate: signal " + signal.signal_id + " not executed: " + g_last_error);
         return;
        }
   string ticket, error;
   if(EaExecute(signal, ticket, error))
      EaFinish(signal.signal_id, EaAckPlaced(signal.signal_id, ticket), "placed #" + ticket);
   else
      EaFinish(signal.signal_id, EaAckFailed(signal.signal_id, error), "failed: " + error);
  }

//--- Signals journaled as seen, with no outcome: the EA stopped between the journal and the
//--- order's result. What the terminal holds under their comment is acked now; the others wait
//--- for their redelivery (EaHandleSignal).
void EaResolveInterrupted(void)
  {
   int n = ArraySize(g_journal);
   for(int i = 0; i < n; i++)
     {
      if(g_journal[i].state != EA_SEEN)
         continue;
      string found = EaFindPlaced(g_journal[i].signal_id);
      if(found != "")
         EaFinish(g_journal[i].signal_id, EaAckPlaced(g_journal[i].signal_id, found),
                  "placed #" + found + " (found after a restart)");
     }
  }

void EaPoll(void)
  {
   if(InpPollWait == 0 && (long)GetTickCount64() < g_next_poll_ms)
      return;
   string path = EagateApi("poll") + "?wait=" + IntegerToString(InpPollWait) + "&limit=20";
   string body;
   int outcome = g_client.Send("GET", path, "", (InpPollWait + 10) * 1000, body);
   if(outcome != EAGATE_OK)
     {
      g_last_error = "poll: " + g_client.LastProblem();
      if(outcome == EAGATE_REFUSED)
         Print("eagate: " + g_last_error);
      return;
     }
   g_connected = true;
   g_last_poll = TimeLocal();
   JsonDoc doc;
   if(!JsonParse(body, doc) || JsonType(doc, JSON_ROOT) != JSON_OBJECT)
     {
      g_last_error = "poll: the answer is not a JSON object";
      return;
     }
   long next_poll = 0;
   if(!JsonGetLong(doc, "next_poll_seconds", next_poll) || next_poll < 1)
      next_poll = 5;
   g_next_poll_ms = (long)GetTickCount64() + next_poll * 1000;
   int list = JsonFind(doc, JSON_ROOT, "signals");
   if(JsonType(doc, list) != JSON_ARRAY)
     {
      g_last_error = "poll: the answer has no signals list";
      return;
     }
   g_last_error = "";
   int count = JsonCount(doc, list);
   for(int k = 0; k < count; k++)
     {
      int node = JsonItem(doc, list, k);
      if(JsonType(doc, node) != JSON_OBJECT)
         continue;
      EaSignal signal;
      signal.signal_id = EaMember(doc, node, "signal_id");
      signal.instrument = EaMember(doc, node, "instrument");
      signal.side = EaMember(doc, node, "side");
      signal.order_type = EaMember(doc, node, "order_type");
      signal.volume = EaMember(doc, node, "volume");
      signal.price = EaMember(doc, node, "price");
      signal.sl = EaMember(doc, node, "sl");
      signal.tp = EaMember(doc, node, "tp");
      signal.expires_at = EaMember(doc, node, "expires_at");
      signal.attempt = 0;
      JsonGetLong(doc, node, "attempt", signal.attempt);
      if(!EaIsUuid(signal.signal_id))
        {
         Print("eagate: a signal without a readable signal_id was skipped");
         continue;
        }
      // The EA is being removed (chart closed, EA removed, terminal closing) while the poll was
      // in flight: CTrade refuses every order now (10027), and a failed ack would be final.
      // Leave the signal unjournaled and unacked: the server delivers it again after its lease.
      if(IsStopped())
         return;
      // TODO(SPEC 8): `action` modify/close with ref_signal_id and position_ticket. The server
      // does not send them yet; when it does, dispatch here to PositionModify/OrderModify and
      // PositionClose/PositionClosePartial/OrderDelete on the journaled ticket.
      EaHandleSignal(signal);
      if(g_client.Stopped())
         return;
     }
  }

//+------------------------------------------------------------------+
//| The chart line                                                   |
//+------------------------------------------------------------------+
void EaShowStatus(void)
  {
   string line = "eagate: ";
   if(g_client.Stopped())
      line += "STOPPED - " + g_client.StopMessage();
   else
     {
      line += g_connected ? "connected" : "not connected";
      if(g_device_name != "")
         line += " as " + g_device_name;
      line += " | last poll " + (g_last_poll == 0 ? "never" : TimeToString(g_last_poll, TIME_SECONDS));
      line += " | last signal " + (g_last_signal == "" ? "none" : g_last_signal);
      if(g_trading_off)
         line += " | Algo Trading is off: not polling (turn it on in the toolbar and the EA's Common tab)";
      else
         if(g_broker_off)
            line += " | no connection to the trade server: not polling";
      line += " | errors: " + (g_last_error == "" ? "none" : g_last_error);
      if(!g_client.Ready())
         line += " (retry in " + IntegerToString((g_client.WaitMs() + 999) / 1000) + " s)";
     }
   Comment(line);
  }

void EaStop(void)
  {
   EventKillTimer();
   string message = "eagate: stopped: " + g_client.StopMessage();
   Print(message);
   Alert(message);
   EaShowStatus();
  }

//--- Everything a previous OnInit (same program, other inputs) may have left behind.
void EaResetState(void)
  {
   if(g_journal_handle != INVALID_HANDLE)
     {
      FileClose(g_journal_handle);
      g_journal_handle = INVALID_HANDLE;
     }
   ArrayResize(g_journal, 0);
   g_journal_name = "";
   g_active = false;
   g_busy = false;
   g_resolved = false;
   g_connected = false;
   g_trading_off = false;
   g_broker_off = false;
   g_device_name = "";
   g_last_poll = 0;
   g_next_poll_ms = 0;
   g_last_signal = "";
   g_last_error = "";
  }

//+------------------------------------------------------------------+
//| Events                                                           |
//+------------------------------------------------------------------+
int OnInit(void)
  {
   if(MQLInfoInteger(MQL_TESTER) != 0)
     {
      // WebRequest does not work in the Strategy Tester: the EA does nothing there.
      Print("eagate: the Strategy Tester cannot reach the server; the EA does nothing here");
      g_active = false;
      return INIT_SUCCEEDED;
     }
   string problem = EaCheckInputs();
   if(problem != "")
     {
      Alert("eagate: " + problem);
      return INIT_PARAMETERS_INCORRECT;
     }
   string why = "";
   if(!EagateSelfTest(why))
     {
      Alert("eagate: the signing self-test failed (" + why + "): this copy of the EA cannot sign requests; reinstall it");
      return INIT_FAILED;
     }
   MathSrand((uint)GetTickCount());
   // MT5 does not reload an EA whose inputs (or chart symbol or period) change: it calls
   // OnDeinit then OnInit, and globals keep their values. Start from a clean state, or a
   // device stopped before (revoked, wrong secret) would stay stopped under its new inputs.
   EaResetState();
   g_client.Configure(EaTrimmed(InpServer), EaTrimmed(InpDeviceId), EaTrimmed(InpSecret));
   g_trade.SetExpertMagicNumber((ulong)InpMagic);
   g_trade.SetDeviationInPoints((ulong)InpSlippage);
   if(!EaJournalOpen())
     {
      Alert("eagate: " + g_last_error);
      return INIT_FAILED;
     }
   string body;
   int outcome = g_client.Send("GET", EagateApi("me"), "", 10000, body);
   if(outcome == EAGATE_STOPPED)
     {
      Alert("eagate: " + g_client.StopMessage());
      return INIT_FAILED;
     }
   if(outcome == EAGATE_OK)
     {
      g_connected = true;
      JsonDoc doc;
      if(JsonParse(body, doc))
         JsonGetString(doc, "device_name", g_device_name);
      Print("eagate: connected to " + g_client.BaseUrl() + " as " + g_device_name +
            ", clock offset " + IntegerToString(g_eagate_clock_offset) + " s");
     }
   else
     {
      // The server is away for now: keep going, the timer retries with backoff.
      g_last_error = "start: " + g_client.LastProblem();
      Print("eagate: " + g_last_error);
     }
   g_active = true;
   g_resolved = false;
   EventSetTimer(1);
   EaShowStatus();
   return INIT_SUCCEEDED;
  }

void OnTimer(void)
  {
   // WebRequest blocks for the whole long poll; never start a second round inside the first.
   if(!g_active || g_busy || IsStopped())
      return;
   g_busy = true;
   if(!g_client.Stopped())
     {
      // Signals wait on the server while the terminal may not trade: polling then would only
      // turn them into failed acks (10027 Algo Trading off, 10031 no connection).
      g_trading_off = TerminalInfoInteger(TERMINAL_TRADE_ALLOWED) == 0 ||
                      MQLInfoInteger(MQL_TRADE_ALLOWED) == 0;
      g_broker_off = TerminalInfoInteger(TERMINAL_CONNECTED) == 0;
      // Interrupted signals are looked up once connected: before that, the terminal's orders,
      // positions and history may not be there yet, and a miss means trading them again.
      if(!g_resolved && !g_broker_off)
        {
         g_resolved = true;
         EaResolveInterrupted();
        }
      if(!g_client.Stopped() && EaSendPendingAcks() && g_client.Ready() && !g_trading_off &&
         !g_broker_off)
         EaPoll();
     }
   if(g_client.Stopped())
     {
      g_active = false;
      EaStop();
     }
   else
      EaShowStatus();
   g_busy = false;
  }

void OnDeinit(const int reason)
  {
   EventKillTimer();
   if(g_journal_handle != INVALID_HANDLE)
     {
      FileClose(g_journal_handle);
      g_journal_handle = INVALID_HANDLE;
     }
   if(reason != REASON_CHARTCLOSE)
      Comment("");
  }
//+------------------------------------------------------------------+
