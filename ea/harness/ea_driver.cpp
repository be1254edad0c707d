// ea_driver.cpp: runs the shipped EA (ea/MQL5/Experts/EagateEA.mq5, included unchanged) in the
// mock terminal: OnInit, OnTimer while the EA's timer runs, OnDeinit, under a test's control.
// Every event is one JSON object on stdout (init, trade, print, alert, comment, timer, exit...).
//
//   ea_driver --sandbox DATA_DIR [--state FILE] [--allow URL]... [--input NAME=VALUE]...
//             [--symbol NAME:digits:bid:ask:step:min:max:filling]... [--clock-skew SECONDS]
//             [--tester] [--algo-trading-off] [--broker-disconnected] [--timer-ms N] [--max-timers N] [--until-acks N] [--deadline SECONDS]
//             [--reject RETCODE] [--crash-before-trade N] [--crash-after-trade N]
//             [--remove-after-answer N] [--reinit-input NAME=VALUE]...
//
// --remove-after-answer N: the trader removes the EA while its Nth answered WebRequest is in
// flight (IsStopped() turns true; the running handler goes on; no event follows but OnDeinit).
// --reinit-input: once the first run ends, the trader changes these inputs in the EA's
// properties: OnDeinit(REASON_PARAMETERS), then OnInit again in the same program (MT5 does not
// reload an EA for new inputs: its globals keep their values), then the timer loop again.
//
// Exit status: 0 after OnDeinit; 2 for bad arguments; 137 at a crash point (the process ends
// as if killed: no OnDeinit, nothing flushed but what the EA flushed itself).
//
// Compiled with -I ea/harness/include (Trade/Trade.mqh) -I ea/harness -I ea/MQL5/Include.
#include "mql5compat.h"

#include "terminal.h"

#include "../MQL5/Experts/EagateEA.mq5"

namespace {

void out(const std::string &json) {
  std::printf("%s\n", json.c_str());
  std::fflush(stdout);
}

// Print, Alert and Comment as JSON lines, in the order they happened.
size_t g_printed = 0;
size_t g_alerted = 0;
std::string g_comment;
void drain() {
  mql5h::Output &o = mql5h::output();
  for (; g_printed < o.printed.size(); g_printed++)
    out("{\"event\":\"print\",\"text\":" + mt5term::json_escape(o.printed[g_printed]) + "}");
  for (; g_alerted < o.alerts.size(); g_alerted++)
    out("{\"event\":\"alert\",\"text\":" + mt5term::json_escape(o.alerts[g_alerted]) + "}");
  if (o.comment != g_comment) {
    g_comment = o.comment;
    out("{\"event\":\"comment\",\"text\":" + mt5term::json_escape(g_comment) + "}");
  }
}

bool set_input(const std::string &name, const std::string &value) {
  string text(value.c_str());
  if (name == "InpServer") InpServer = text;
  else if (name == "InpDeviceId") InpDeviceId = text;
  else if (name == "InpSecret") InpSecret = text;
  else if (name == "InpPollWait") InpPollWait = std::atoi(value.c_str());
  else if (name == "InpMagic") InpMagic = std::atol(value.c_str());
  else if (name == "InpSlippage") InpSlippage = std::atoi(value.c_str());
  else if (name == "InpMaxVolume") InpMaxVolume = std::atof(value.c_str());
  else if (name == "InpSymbolSuffix") InpSymbolSuffix = text;
  else return false;
  return true;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int usage(const std::string &why) {
  std::fprintf(stderr, "ea_driver: %s\n", why.c_str());
  return 2;
}

}  // namespace

int main(int argc, char **argv) {
  mql5h::output().echo = false;
  mt5term::terminal().emit = out;
  mt5term::terminal().before_crash = drain;
  int timer_ms = -1;
  int max_timers = 1000000;
  int until_acks = 0;
  double deadline = 60;
  bool sandbox = false;
  std::vector<std::pair<std::string, std::string>> reinit_inputs;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) return std::string();
      return argv[++i];
    };
    if (arg == "--sandbox") { mql5h::set_sandbox(value()); sandbox = true; }
    else if (arg == "--state") mt5term::load(value());
    else if (arg == "--allow") mql5h::allow_url(value());
    else if (arg == "--input") {
      std::string v = value();
      size_t eq = v.find('=');
      if (eq == std::string::npos || !set_input(v.substr(0, eq), v.substr(eq + 1)))
        return usage("unknown input " + v);
    } else if (arg == "--symbol") {
      if (!mt5term::add_symbol(value())) return usage("bad symbol spec");
    } else if (arg == "--clock-skew") mql5h::set_skew(std::atol(value().c_str()));
    else if (arg == "--tester") mql5h::program().mql_info[MQL_TESTER] = 1;
    else if (arg == "--algo-trading-off") mt5term::terminal().algo_trading = false;
    else if (arg == "--broker-disconnected") mt5term::terminal().connected = false;
    else if (arg == "--timer-ms") timer_ms = std::atoi(value().c_str());
    else if (arg == "--max-timers") max_timers = std::atoi(value().c_str());
    else if (arg == "--until-acks") until_acks = std::atoi(value().c_str());
    else if (arg == "--deadline") deadline = std::atof(value().c_str());
    else if (arg == "--reject") mt5term::terminal().reject_retcode = (uint)std::atol(value().c_str());
    else if (arg == "--crash-before-trade") mt5term::terminal().crash_before_trade = std::atoi(value().c_str());
    else if (arg == "--crash-after-trade") mt5term::terminal().crash_after_trade = std::atoi(value().c_str());
    else if (arg == "--remove-after-answer") mql5h::net().remove_after_answer = std::atoi(value().c_str());
    else if (arg == "--reinit-input") {
      std::string v = value();
      size_t eq = v.find('=');
      static const char *const names[] = {"InpServer", "InpDeviceId", "InpSecret", "InpPollWait", "InpMagic",
                                          "InpSlippage", "InpMaxVolume", "InpSymbolSuffix"};
      if (eq == std::string::npos || std::find(std::begin(names), std::end(names), v.substr(0, eq)) == std::end(names))
        return usage("unknown input " + v);
      reinit_inputs.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    }
    else return usage("unknown argument " + arg);
  }
  if (!sandbox) return usage("--sandbox is required");

  auto start = std::chrono::steady_clock::now();
  int result = 0;
  int timers = 0;
  std::string why = "deinit";
  for (int run = 0; run < (reinit_inputs.empty() ? 1 : 2); run++) {
    if (run == 1) {
      OnDeinit(REASON_PARAMETERS);
      drain();
      for (const auto &entry : reinit_inputs) set_input(entry.first, entry.second);
      start = std::chrono::steady_clock::now();
      timers = 0;
    }
    result = OnInit();
    drain();
    out("{\"event\":\"init\",\"result\":" + std::to_string(result) + ",\"clock_offset\":" +
        std::to_string(g_eagate_clock_offset) + "}");
    why = "deinit";
    if (result != INIT_SUCCEEDED) break;  // the terminal unloads an EA whose OnInit failed
    for (;;) {
      int period = mql5h::program().timer_seconds * 1000;
      if (mql5h::program().expert_removed) { why = "removed"; break; }
      if (period == 0) { why = "timer_killed"; break; }
      if (timers >= max_timers) { why = "max_timers"; break; }
      if (until_acks > 0 && g_acks_answered >= until_acks) { why = "acks"; break; }
      if (seconds_since(start) > deadline) { why = "deadline"; break; }
      std::this_thread::sleep_for(std::chrono::milliseconds(timer_ms >= 0 ? timer_ms : period));
      OnTimer();
      timers++;
      drain();
      out("{\"event\":\"timer\",\"n\":" + std::to_string(timers) + ",\"acks\":" + std::to_string(g_acks_answered) +
          ",\"clock_offset\":" + std::to_string(g_eagate_clock_offset) + "}");
    }
    if (mql5h::program().expert_removed) break;
  }
  OnDeinit(result == INIT_SUCCEEDED ? REASON_REMOVE : REASON_INITFAILED);
  drain();
  out("{\"event\":\"exit\",\"why\":\"" + why + "\",\"init\":" + std::to_string(result) + ",\"timers\":" +
      std::to_string(timers) + ",\"acks\":" + std::to_string(g_acks_answered) + ",\"stopped\":" +
      (g_client.Stopped() ? "true" : "false") + ",\"stop_code\":" +
      mt5term::json_escape(g_client.StopCode().utf8()) + ",\"clock_offset\":" + std::to_string(g_eagate_clock_offset) +
      ",\"terminal\":" + mt5term::state_json() + "}");
  return 0;
}
