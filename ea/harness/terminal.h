// terminal.h: a mock MetaTrader 5 terminal and trade server for the harness.
//
// Symbols (digits, point, bid/ask, volume step/min/max, filling modes), positions, pending
// orders, history (orders and deals), the trading built-ins an EA calls (Symbol*, Position*,
// Order*, History*, OrderSend) and the broker's checks the eagate EA must satisfy: volume on
// the step within min/max, prices on the tick, a filling mode the symbol allows, limit and stop
// prices on the right side of the market, stops on the right side of the price, comments cut
// to 31 characters. Accounts are hedging: every market order opens a position of its own whose
// ticket is the order's, as in MT5.
//
// The terminal's state (not the symbols: the driver sets them each run) is kept in a file, so a
// restarted EA finds what it placed before, as it would after a real terminal restart. Harness
// control (symbols, faults, crash points, events) is in namespace mt5term, for drivers only.
//
// Needs mql5compat.h first.
#ifndef EAGATE_TERMINAL_H
#define EAGATE_TERMINAL_H

#include <fstream>
#include <climits>
#include <functional>

// ----------------------------------------------------------------------------------------
// Section: enumerations (values as in MQL5 where code could depend on them)
// ----------------------------------------------------------------------------------------
enum ENUM_SYMBOL_INFO_DOUBLE {
  SYMBOL_BID = 1,
  SYMBOL_ASK = 4,
  SYMBOL_POINT = 16,
  SYMBOL_TRADE_TICK_SIZE = 18,
  SYMBOL_VOLUME_MIN = 34,
  SYMBOL_VOLUME_MAX = 35,
  SYMBOL_VOLUME_STEP = 36,
};
enum ENUM_SYMBOL_INFO_INTEGER {
  SYMBOL_SELECT = 0,
  SYMBOL_DIGITS = 17,
  SYMBOL_TRADE_STOPS_LEVEL = 31,
  SYMBOL_TRADE_EXEMODE = 33,
  SYMBOL_EXPIRATION_MODE = 49,
  SYMBOL_FILLING_MODE = 50,
  SYMBOL_ORDER_MODE = 71,
};
// SYMBOL_FILLING_MODE flags
#define SYMBOL_FILLING_FOK 1
#define SYMBOL_FILLING_IOC 2
#define SYMBOL_FILLING_BOC 4
// SYMBOL_EXPIRATION_MODE flags
#define SYMBOL_EXPIRATION_GTC 1
#define SYMBOL_EXPIRATION_DAY 2
#define SYMBOL_EXPIRATION_SPECIFIED 4
#define SYMBOL_EXPIRATION_SPECIFIED_DAY 8

enum ENUM_SYMBOL_TRADE_EXECUTION {
  SYMBOL_TRADE_EXECUTION_REQUEST = 0,
  SYMBOL_TRADE_EXECUTION_INSTANT = 1,
  SYMBOL_TRADE_EXECUTION_MARKET = 2,
  SYMBOL_TRADE_EXECUTION_EXCHANGE = 3,
};
enum ENUM_ORDER_TYPE {
  ORDER_TYPE_BUY = 0,
  ORDER_TYPE_SELL = 1,
  ORDER_TYPE_BUY_LIMIT = 2,
  ORDER_TYPE_SELL_LIMIT = 3,
  ORDER_TYPE_BUY_STOP = 4,
  ORDER_TYPE_SELL_STOP = 5,
  ORDER_TYPE_BUY_STOP_LIMIT = 6,
  ORDER_TYPE_SELL_STOP_LIMIT = 7,
  ORDER_TYPE_CLOSE_BY = 8,
};
enum ENUM_ORDER_TYPE_FILLING {
  ORDER_FILLING_FOK = 0,
  ORDER_FILLING_IOC = 1,
  ORDER_FILLING_RETURN = 2,
  ORDER_FILLING_BOC = 3,
};
enum ENUM_ORDER_TYPE_TIME {
  ORDER_TIME_GTC = 0,
  ORDER_TIME_DAY = 1,
  ORDER_TIME_SPECIFIED = 2,
  ORDER_TIME_SPECIFIED_DAY = 3,
};
enum ENUM_ORDER_STATE {
  ORDER_STATE_STARTED = 0,
  ORDER_STATE_PLACED = 1,
  ORDER_STATE_CANCELED = 2,
  ORDER_STATE_PARTIAL = 3,
  ORDER_STATE_FILLED = 4,
  ORDER_STATE_REJECTED = 5,
  ORDER_STATE_EXPIRED = 6,
};
enum ENUM_TRADE_REQUEST_ACTIONS {
  TRADE_ACTION_DEAL = 1,
  TRADE_ACTION_PENDING = 5,
  TRADE_ACTION_SLTP = 6,
  TRADE_ACTION_MODIFY = 7,
  TRADE_ACTION_REMOVE = 8,
  TRADE_ACTION_CLOSE_BY = 10,
};
enum ENUM_POSITION_TYPE { POSITION_TYPE_BUY = 0, POSITION_TYPE_SELL = 1 };
enum ENUM_POSITION_PROPERTY_INTEGER {
  POSITION_TICKET = 1,
  POSITION_TIME = 2,
  POSITION_TYPE = 3,
  POSITION_MAGIC = 4,
  POSITION_IDENTIFIER = 5,
};
enum ENUM_POSITION_PROPERTY_DOUBLE {
  POSITION_VOLUME = 1,
  POSITION_PRICE_OPEN = 2,
  POSITION_SL = 3,
  POSITION_TP = 4,
  POSITION_PRICE_CURRENT = 5,
};
enum ENUM_POSITION_PROPERTY_STRING { POSITION_SYMBOL = 1, POSITION_COMMENT = 2 };
enum ENUM_ORDER_PROPERTY_INTEGER {
  ORDER_TICKET = 1,
  ORDER_TIME_SETUP = 2,
  ORDER_TYPE = 3,
  ORDER_STATE = 4,
  ORDER_MAGIC = 5,
  ORDER_POSITION_ID = 6,
  ORDER_TYPE_FILLING = 7,
  ORDER_TYPE_TIME = 8,
};
enum ENUM_ORDER_PROPERTY_DOUBLE {
  ORDER_VOLUME_INITIAL = 1,
  ORDER_VOLUME_CURRENT = 2,
  ORDER_PRICE_OPEN = 3,
  ORDER_SL = 4,
  ORDER_TP = 5,
};
enum ENUM_ORDER_PROPERTY_STRING { ORDER_SYMBOL = 1, ORDER_COMMENT = 2 };
enum ENUM_DEAL_TYPE { DEAL_TYPE_BUY = 0, DEAL_TYPE_SELL = 1 };
enum ENUM_DEAL_ENTRY { DEAL_ENTRY_IN = 0, DEAL_ENTRY_OUT = 1, DEAL_ENTRY_INOUT = 2, DEAL_ENTRY_OUT_BY = 3 };
enum ENUM_DEAL_PROPERTY_INTEGER {
  DEAL_TICKET = 1,
  DEAL_ORDER = 2,
  DEAL_TIME = 3,
  DEAL_TYPE = 4,
  DEAL_ENTRY = 5,
  DEAL_MAGIC = 6,
  DEAL_POSITION_ID = 7,
};
enum ENUM_DEAL_PROPERTY_DOUBLE { DEAL_VOLUME = 1, DEAL_PRICE = 2 };
enum ENUM_DEAL_PROPERTY_STRING { DEAL_SYMBOL = 1, DEAL_COMMENT = 2 };

#define TRADE_RETCODE_REQUOTE 10004
#define TRADE_RETCODE_REJECT 10006
#define TRADE_RETCODE_CANCEL 10007
#define TRADE_RETCODE_PLACED 10008
#define TRADE_RETCODE_DONE 10009
#define TRADE_RETCODE_DONE_PARTIAL 10010
#define TRADE_RETCODE_ERROR 10011
#define TRADE_RETCODE_TIMEOUT 10012
#define TRADE_RETCODE_INVALID 10013
#define TRADE_RETCODE_INVALID_VOLUME 10014
#define TRADE_RETCODE_INVALID_PRICE 10015
#define TRADE_RETCODE_INVALID_STOPS 10016
#define TRADE_RETCODE_TRADE_DISABLED 10017
#define TRADE_RETCODE_MARKET_CLOSED 10018
#define TRADE_RETCODE_NO_MONEY 10019
#define TRADE_RETCODE_PRICE_CHANGED 10020
#define TRADE_RETCODE_PRICE_OFF 10021
#define TRADE_RETCODE_INVALID_EXPIRATION 10022
#define TRADE_RETCODE_ORDER_CHANGED 10023
#define TRADE_RETCODE_TOO_MANY_REQUESTS 10024
#define TRADE_RETCODE_NO_CHANGES 10025
#define TRADE_RETCODE_SERVER_DISABLES_AT 10026
#define TRADE_RETCODE_CLIENT_DISABLES_AT 10027
#define TRADE_RETCODE_LOCKED 10028
#define TRADE_RETCODE_FROZEN 10029
#define TRADE_RETCODE_INVALID_FILL 10030
#define TRADE_RETCODE_CONNECTION 10031
#define TRADE_RETCODE_INVALID_ORDER 10035
#define TRADE_RETCODE_POSITION_CLOSED 10036

#define ERR_TRADE_POSITION_NOT_FOUND 4753
#define ERR_TRADE_ORDER_NOT_FOUND 4754
#define ERR_TRADE_DEAL_NOT_FOUND 4755
#define ERR_MARKET_UNKNOWN_SYMBOL 4301

struct MqlTradeRequest {
  ENUM_TRADE_REQUEST_ACTIONS action;
  ulong magic;
  ulong order;
  string symbol;
  double volume;
  double price;
  double stoplimit;
  double sl;
  double tp;
  ulong deviation;
  ENUM_ORDER_TYPE type;
  ENUM_ORDER_TYPE_FILLING type_filling;
  ENUM_ORDER_TYPE_TIME type_time;
  datetime expiration;
  string comment;
  ulong position;
  ulong position_by;
};
struct MqlTradeResult {
  uint retcode;
  ulong deal;
  ulong order;
  double volume;
  double price;
  double bid;
  double ask;
  string comment;
  uint request_id;
  int retcode_external;
};

// ----------------------------------------------------------------------------------------
// Section: the terminal's state (driver side)
// ----------------------------------------------------------------------------------------
namespace mt5term {

struct Symbol {
  std::string name;
  int digits = 5;
  double bid = 1.0;
  double ask = 1.0;
  double step = 0.01;
  double vmin = 0.01;
  double vmax = 100;
  long filling = SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC;
  long exemode = SYMBOL_TRADE_EXECUTION_MARKET;
  bool selected = false;
  double tick = 0;  // SYMBOL_TRADE_TICK_SIZE; 0: one point
  double point() const { return std::pow(10.0, -digits); }
  double tick_size() const { return tick > 0 ? tick : point(); }
};
struct Position {
  ulong ticket = 0;
  std::string symbol;
  int type = 0;
  double volume = 0, price = 0, sl = 0, tp = 0;
  long magic = 0;
  long time = 0;
  std::string comment;
};
struct Order {
  ulong ticket = 0;
  std::string symbol;
  int type = 0;
  int state = ORDER_STATE_PLACED;
  double volume = 0, price = 0, sl = 0, tp = 0;
  long magic = 0;
  long time = 0;
  ulong position_id = 0;
  int filling = ORDER_FILLING_RETURN;
  std::string comment;
};
struct Deal {
  ulong ticket = 0;
  ulong order = 0;
  std::string symbol;
  int type = 0;
  int entry = DEAL_ENTRY_IN;
  double volume = 0, price = 0;
  long magic = 0;
  long time = 0;
  ulong position_id = 0;
  std::string comment;
};

struct Terminal {
  std::vector<Symbol> symbols;
  std::vector<Position> positions;
  std::vector<Order> orders;          // pending
  std::vector<Order> history_orders;  // filled, cancelled
  std::vector<Deal> deals;
  ulong next_ticket = 50000001;  // orders and positions (a position takes its order's ticket)
  ulong next_deal = 90000001;
  std::string state_path;  // where the state survives the EA (empty: memory only)
  bool algo_trading = true;  // the terminal's Algo Trading button
  bool connected = true;     // connected to the broker's trade server

  // Faults and crash points, for tests.
  uint reject_retcode = 0;     // every trade request fails with this retcode
  int crash_before_trade = 0;  // exit (137) on the n-th request, before it reaches the broker
  int crash_after_trade = 0;   // exit (137) right after the n-th trade was executed
  int requests = 0;
  std::function<void(const std::string &)> emit;  // one JSON object per line
  std::function<void()> before_crash;             // flush captured output

  // Selection state of the built-ins.
  ulong selected_position = 0;
  ulong selected_order = 0;
  std::vector<ulong> history_deal_sel;
  std::vector<ulong> history_order_sel;
};

inline Terminal &terminal() {
  static Terminal t;
  return t;
}

inline std::string json_escape(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
    } else out += (char)c;
  }
  return out + "\"";
}

inline std::string num(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.10g", v);
  return buffer;
}

inline Symbol *find_symbol(const std::string &name) {
  for (Symbol &s : terminal().symbols)
    if (s.name == name) return &s;
  return nullptr;
}

// "NAME:digits:bid:ask:step:min:max:filling[:tick]" (filling: SYMBOL_FILLING_* flags, 0 = RETURN
// only; tick: SYMBOL_TRADE_TICK_SIZE when it is not one point, as on index CFDs quoted in 0.25)
inline bool add_symbol(const std::string &spec) {
  Symbol s;
  std::vector<std::string> parts;
  std::stringstream in(spec);
  std::string part;
  while (std::getline(in, part, ':')) parts.push_back(part);
  if (parts.size() != 8 && parts.size() != 9) return false;
  s.name = parts[0];
  s.digits = std::atoi(parts[1].c_str());
  s.bid = std::atof(parts[2].c_str());
  s.ask = std::atof(parts[3].c_str());
  s.step = std::atof(parts[4].c_str());
  s.vmin = std::atof(parts[5].c_str());
  s.vmax = std::atof(parts[6].c_str());
  s.filling = std::atol(parts[7].c_str());
  if (parts.size() == 9) s.tick = std::atof(parts[8].c_str());
  terminal().symbols.push_back(s);
  return true;
}

// The state file: one record a line, fields separated by tabs, comments hex-encoded.
inline std::string hex_of(const std::string &s) {
  std::string out;
  char buffer[4];
  for (unsigned char c : s) {
    std::snprintf(buffer, sizeof buffer, "%02x", c);
    out += buffer;
  }
  return out.empty() ? "-" : out;
}
inline std::string unhex(const std::string &s) {
  std::string out;
  if (s == "-") return out;
  for (size_t i = 0; i + 1 < s.size(); i += 2) out.push_back((char)std::strtol(s.substr(i, 2).c_str(), nullptr, 16));
  return out;
}

inline void save() {
  Terminal &t = terminal();
  if (t.state_path.empty()) return;
  std::string temp = t.state_path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out.precision(17);
    out << "next\t" << t.next_ticket << "\t" << t.next_deal << "\n";
    for (const Position &p : t.positions)
      out << "P\t" << p.ticket << "\t" << p.symbol << "\t" << p.type << "\t" << p.volume << "\t" << p.price
          << "\t" << p.sl << "\t" << p.tp << "\t" << p.magic << "\t" << p.time << "\t" << hex_of(p.comment) << "\n";
    auto order_line = [&out](const char *kind, const Order &o) {
      out << kind << "\t" << o.ticket << "\t" << o.symbol << "\t" << o.type << "\t" << o.state << "\t" << o.volume
          << "\t" << o.price << "\t" << o.sl << "\t" << o.tp << "\t" << o.magic << "\t" << o.time << "\t"
          << o.position_id << "\t" << o.filling << "\t" << hex_of(o.comment) << "\n";
    };
    for (const Order &o : t.orders) order_line("O", o);
    for (const Order &o : t.history_orders) order_line("H", o);
    for (const Deal &d : t.deals)
      out << "D\t" << d.ticket << "\t" << d.order << "\t" << d.symbol << "\t" << d.type << "\t" << d.entry << "\t"
          << d.volume << "\t" << d.price << "\t" << d.magic << "\t" << d.time << "\t" << d.position_id << "\t"
          << hex_of(d.comment) << "\n";
    out.flush();
  }
  std::rename(temp.c_str(), t.state_path.c_str());
}

inline void load(const std::string &path) {
  Terminal &t = terminal();
  t.state_path = path;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream fields(line);
    std::string field;
    while (std::getline(fields, field, '\t')) f.push_back(field);
    if (f.empty()) continue;
    auto u = [&f](size_t i) { return (ulong)std::strtoull(f[i].c_str(), nullptr, 10); };
    auto l = [&f](size_t i) { return std::atol(f[i].c_str()); };
    auto d = [&f](size_t i) { return std::atof(f[i].c_str()); };
    if (f[0] == "next" && f.size() == 3) {
      t.next_ticket = u(1);
      t.next_deal = u(2);
    } else if (f[0] == "P" && f.size() == 11) {
      Position p;
      p.ticket = u(1); p.symbol = f[2]; p.type = (int)l(3); p.volume = d(4); p.price = d(5);
      p.sl = d(6); p.tp = d(7); p.magic = l(8); p.time = l(9); p.comment = unhex(f[10]);
      t.positions.push_back(p);
    } else if ((f[0] == "O" || f[0] == "H") && f.size() == 14) {
      Order o;
      o.ticket = u(1); o.symbol = f[2]; o.type = (int)l(3); o.state = (int)l(4); o.volume = d(5);
      o.price = d(6); o.sl = d(7); o.tp = d(8); o.magic = l(9); o.time = l(10); o.position_id = u(11);
      o.filling = (int)l(12); o.comment = unhex(f[13]);
      (f[0] == "O" ? t.orders : t.history_orders).push_back(o);
    } else if (f[0] == "D" && f.size() == 12) {
      Deal x;
      x.ticket = u(1); x.order = u(2); x.symbol = f[3]; x.type = (int)l(4); x.entry = (int)l(5);
      x.volume = d(6); x.price = d(7); x.magic = l(8); x.time = l(9); x.position_id = u(10);
      x.comment = unhex(f[11]);
      t.deals.push_back(x);
    }
  }
}

// The terminal as one JSON object: what a test checks after a run.
inline std::string state_json() {
  Terminal &t = terminal();
  std::string out = "{\"positions\":[";
  for (size_t i = 0; i < t.positions.size(); i++) {
    const Position &p = t.positions[i];
    out += std::string(i ? "," : "") + "{\"ticket\":" + std::to_string(p.ticket) + ",\"symbol\":" +
           json_escape(p.symbol) + ",\"type\":" + std::to_string(p.type) + ",\"volume\":" + num(p.volume) +
           ",\"price\":" + num(p.price) + ",\"sl\":" + num(p.sl) + ",\"tp\":" + num(p.tp) +
           ",\"magic\":" + std::to_string(p.magic) + ",\"comment\":" + json_escape(p.comment) + "}";
  }
  out += "],\"orders\":[";
  for (size_t i = 0; i < t.orders.size(); i++) {
    const Order &o = t.orders[i];
    out += std::string(i ? "," : "") + "{\"ticket\":" + std::to_string(o.ticket) + ",\"symbol\":" +
           json_escape(o.symbol) + ",\"type\":" + std::to_string(o.type) + ",\"volume\":" + num(o.volume) +
           ",\"price\":" + num(o.price) + ",\"sl\":" + num(o.sl) + ",\"tp\":" + num(o.tp) +
           ",\"magic\":" + std::to_string(o.magic) + ",\"filling\":" + std::to_string(o.filling) +
           ",\"comment\":" + json_escape(o.comment) + "}";
  }
  out += "],\"deals\":" + std::to_string(t.deals.size()) + "}";
  return out;
}

inline void emit(const std::string &json) {
  if (terminal().emit) terminal().emit(json);
}

[[noreturn]] inline void crash(const char *where) {
  emit(std::string("{\"event\":\"crash\",\"where\":") + json_escape(where) + "}");
  if (terminal().before_crash) terminal().before_crash();
  std::fflush(stdout);
  _exit(137);
}

// A price the trade server accepts: a whole number of ticks (10015 invalid price otherwise).
inline bool on_tick(double price, const Symbol &s) {
  double ticks = price / s.tick_size();
  return std::fabs(ticks - std::round(ticks)) < 1e-6;
}

inline bool volume_ok(const Symbol &s, double v) {
  if (v < s.vmin - 1e-9 || v > s.vmax + 1e-9) return false;
  double steps = v / s.step;
  return std::fabs(steps - std::round(steps)) < 1e-6;
}

inline bool filling_ok(const Symbol &s, int filling, bool market) {
  if (filling == ORDER_FILLING_FOK) return (s.filling & SYMBOL_FILLING_FOK) != 0;
  if (filling == ORDER_FILLING_IOC) return (s.filling & SYMBOL_FILLING_IOC) != 0;
  if (filling == ORDER_FILLING_RETURN) return !market || s.exemode != SYMBOL_TRADE_EXECUTION_MARKET;
  return false;
}

// Stops of a buy must lie below (sl) and above (tp) `price`; of a sell, the other way round.
inline bool stops_ok(bool buy, double price, double sl, double tp) {
  if (sl < 0 || tp < 0) return false;
  if (buy) return (sl == 0 || sl < price) && (tp == 0 || tp > price);
  return (sl == 0 || sl > price) && (tp == 0 || tp < price);
}

inline const char *retcode_text(uint retcode) {
  switch (retcode) {
    case TRADE_RETCODE_REQUOTE: return "requote";
    case TRADE_RETCODE_REJECT: return "request rejected";
    case TRADE_RETCODE_PLACED: return "order placed";
    case TRADE_RETCODE_DONE: return "request completed";
    case TRADE_RETCODE_DONE_PARTIAL: return "only part of the request was completed";
    case TRADE_RETCODE_INVALID: return "invalid request";
    case TRADE_RETCODE_INVALID_VOLUME: return "invalid volume in the request";
    case TRADE_RETCODE_INVALID_PRICE: return "invalid price in the request";
    case TRADE_RETCODE_INVALID_STOPS: return "invalid stops in the request";
    case TRADE_RETCODE_TRADE_DISABLED: return "trade is disabled";
    case TRADE_RETCODE_MARKET_CLOSED: return "market is closed";
    case TRADE_RETCODE_NO_MONEY: return "there is not enough money to complete the request";
    case TRADE_RETCODE_CLIENT_DISABLES_AT: return "autotrading disabled by client terminal";
    case TRADE_RETCODE_INVALID_FILL: return "invalid order filling type";
    case TRADE_RETCODE_INVALID_ORDER: return "incorrect or prohibited order type";
    case TRADE_RETCODE_POSITION_CLOSED: return "position with the specified identifier has already been closed";
    default: return "unknown retcode";
  }
}

inline bool fail(MqlTradeResult &result, uint retcode) {
  result.retcode = retcode;
  result.comment = string(retcode_text(retcode));
  emit("{\"event\":\"trade_refused\",\"retcode\":" + std::to_string(retcode) + ",\"description\":" +
       json_escape(retcode_text(retcode)) + "}");
  return false;
}

inline std::string cut_comment(const string &comment) {
  std::u16string u = comment.u;
  if (u.size() > 31) u.resize(31);  // MT5 keeps 31 characters of an order comment
  return string::from_utf16(u).utf8();
}

inline const Position *position_by_ticket(ulong ticket) {
  for (const Position &p : terminal().positions)
    if (p.ticket == ticket) return &p;
  return nullptr;
}
inline const Order *order_by_ticket(const std::vector<Order> &list, ulong ticket) {
  for (const Order &o : list)
    if (o.ticket == ticket) return &o;
  return nullptr;
}
inline const Deal *deal_by_ticket(ulong ticket) {
  for (const Deal &d : terminal().deals)
    if (d.ticket == ticket) return &d;
  return nullptr;
}
inline bool in(const std::vector<ulong> &list, ulong ticket) {
  return std::find(list.begin(), list.end(), ticket) != list.end();
}

// The broker: executes or refuses one request.
inline bool trade(const MqlTradeRequest &request, MqlTradeResult &result) {
  Terminal &t = terminal();
  result = MqlTradeResult();
  result.retcode = 0;
  result.deal = 0;
  result.order = 0;
  result.volume = 0;
  result.price = 0;
  result.bid = 0;
  result.ask = 0;
  result.request_id = 0;
  result.retcode_external = 0;
  t.requests++;
  if (t.crash_before_trade > 0 && t.requests == t.crash_before_trade) crash("before_trade");
  if (t.reject_retcode != 0) return fail(result, t.reject_retcode);
  long now = (long)TimeCurrent();

  if (request.action == TRADE_ACTION_REMOVE) {
    for (size_t i = 0; i < t.orders.size(); i++) {
      if (t.orders[i].ticket != request.order) continue;
      Order o = t.orders[i];
      o.state = ORDER_STATE_CANCELED;
      t.orders.erase(t.orders.begin() + (long)i);
      t.history_orders.push_back(o);
      save();
      result.retcode = TRADE_RETCODE_DONE;
      result.order = o.ticket;
      emit("{\"event\":\"trade\",\"action\":\"remove\",\"order\":" + std::to_string(o.ticket) + "}");
      return true;
    }
    return fail(result, TRADE_RETCODE_INVALID_ORDER);
  }
  if (request.action == TRADE_ACTION_SLTP) {
    for (Position &p : t.positions) {
      if (p.ticket != request.position) continue;
      if (!stops_ok(p.type == POSITION_TYPE_BUY, p.price, request.sl, request.tp))
        return fail(result, TRADE_RETCODE_INVALID_STOPS);
      p.sl = request.sl;
      p.tp = request.tp;
      save();
      result.retcode = TRADE_RETCODE_DONE;
      emit("{\"event\":\"trade\",\"action\":\"sltp\",\"position\":" + std::to_string(p.ticket) + "}");
      return true;
    }
    return fail(result, TRADE_RETCODE_POSITION_CLOSED);
  }
  if (request.action == TRADE_ACTION_MODIFY) {
    for (Order &o : t.orders) {
      if (o.ticket != request.order) continue;
      o.price = request.price;
      o.sl = request.sl;
      o.tp = request.tp;
      save();
      result.retcode = TRADE_RETCODE_DONE;
      result.order = o.ticket;
      emit("{\"event\":\"trade\",\"action\":\"modify\",\"order\":" + std::to_string(o.ticket) + "}");
      return true;
    }
    return fail(result, TRADE_RETCODE_INVALID_ORDER);
  }
  if (request.action != TRADE_ACTION_DEAL && request.action != TRADE_ACTION_PENDING)
    return fail(result, TRADE_RETCODE_INVALID);

  Symbol *s = find_symbol(request.symbol.utf8());
  if (s == nullptr) return fail(result, TRADE_RETCODE_INVALID);
  result.bid = s->bid;
  result.ask = s->ask;
  bool market = request.action == TRADE_ACTION_DEAL;
  int type = (int)request.type;
  bool buy = type == ORDER_TYPE_BUY || type == ORDER_TYPE_BUY_LIMIT || type == ORDER_TYPE_BUY_STOP;
  if (market ? (type != ORDER_TYPE_BUY && type != ORDER_TYPE_SELL)
             : (type < ORDER_TYPE_BUY_LIMIT || type > ORDER_TYPE_SELL_STOP))
    return fail(result, TRADE_RETCODE_INVALID_ORDER);
  if (!volume_ok(*s, request.volume)) return fail(result, TRADE_RETCODE_INVALID_VOLUME);
  if (!filling_ok(*s, (int)request.type_filling, market)) return fail(result, TRADE_RETCODE_INVALID_FILL);
  if (!on_tick(request.price, *s) || !on_tick(request.sl, *s) || !on_tick(request.tp, *s))
    return fail(result, TRADE_RETCODE_INVALID_PRICE);

  if (market && request.position != 0) {
    // Closing (part of) a position of this hedging account.
    for (size_t i = 0; i < t.positions.size(); i++) {
      Position &p = t.positions[i];
      if (p.ticket != request.position) continue;
      if ((p.type == POSITION_TYPE_BUY) == buy || request.volume > p.volume + 1e-9)
        return fail(result, TRADE_RETCODE_INVALID);
      Order o;
      o.ticket = t.next_ticket++; o.symbol = s->name; o.type = type; o.state = ORDER_STATE_FILLED;
      o.volume = request.volume; o.price = buy ? s->ask : s->bid; o.magic = (long)request.magic;
      o.time = now; o.position_id = p.ticket; o.filling = (int)request.type_filling;
      o.comment = cut_comment(request.comment);
      Deal d;
      d.ticket = t.next_deal++; d.order = o.ticket; d.symbol = s->name; d.type = buy ? DEAL_TYPE_BUY : DEAL_TYPE_SELL;
      d.entry = DEAL_ENTRY_OUT; d.volume = request.volume; d.price = o.price; d.magic = o.magic; d.time = now;
      d.position_id = p.ticket; d.comment = o.comment;
      t.history_orders.push_back(o);
      t.deals.push_back(d);
      p.volume -= request.volume;
      ulong closed = p.ticket;
      if (p.volume < 1e-9) t.positions.erase(t.positions.begin() + (long)i);
      save();
      result.retcode = TRADE_RETCODE_DONE;
      result.order = o.ticket;
      result.deal = d.ticket;
      result.volume = d.volume;
      result.price = d.price;
      emit("{\"event\":\"trade\",\"action\":\"close\",\"position\":" + std::to_string(closed) + ",\"deal\":" +
           std::to_string(d.ticket) + ",\"volume\":" + num(d.volume) + "}");
      if (t.crash_after_trade > 0 && t.requests == t.crash_after_trade) crash("after_trade");
      return true;
    }
    return fail(result, TRADE_RETCODE_POSITION_CLOSED);
  }

  double market_price = buy ? s->ask : s->bid;
  double price = market ? market_price : request.price;
  if (market) {
    if (request.price != 0 && std::fabs(request.price - market_price) > (double)request.deviation * s->point() + 1e-9)
      return fail(result, TRADE_RETCODE_REQUOTE);
  } else {
    bool limit = type == ORDER_TYPE_BUY_LIMIT || type == ORDER_TYPE_SELL_LIMIT;
    // A buy limit waits below the ask, a buy stop above it; a sell the other way round.
    bool below = buy == limit;
    if (price <= 0 || (below ? !(price < market_price) : !(price > market_price)))
      return fail(result, TRADE_RETCODE_INVALID_PRICE);
  }
  if (!stops_ok(buy, price, request.sl, request.tp)) return fail(result, TRADE_RETCODE_INVALID_STOPS);

  Order o;
  o.ticket = t.next_ticket++; o.symbol = s->name; o.type = type; o.volume = request.volume; o.price = price;
  o.sl = request.sl; o.tp = request.tp; o.magic = (long)request.magic; o.time = now;
  o.filling = (int)request.type_filling; o.comment = cut_comment(request.comment);
  std::string event;
  if (market) {
    o.state = ORDER_STATE_FILLED;
    o.position_id = o.ticket;
    Deal d;
    d.ticket = t.next_deal++; d.order = o.ticket; d.symbol = s->name; d.type = buy ? DEAL_TYPE_BUY : DEAL_TYPE_SELL;
    d.entry = DEAL_ENTRY_IN; d.volume = o.volume; d.price = price; d.magic = o.magic; d.time = now;
    d.position_id = o.ticket; d.comment = o.comment;
    Position p;
    p.ticket = o.ticket; p.symbol = s->name; p.type = buy ? POSITION_TYPE_BUY : POSITION_TYPE_SELL;
    p.volume = o.volume; p.price = price; p.sl = o.sl; p.tp = o.tp; p.magic = o.magic; p.time = now;
    p.comment = o.comment;
    t.history_orders.push_back(o);
    t.deals.push_back(d);
    t.positions.push_back(p);
    result.deal = d.ticket;
    result.volume = d.volume;
    result.price = price;
    event = ",\"deal\":" + std::to_string(d.ticket) + ",\"position\":" + std::to_string(p.ticket);
  } else {
    o.state = ORDER_STATE_PLACED;
    t.orders.push_back(o);
    result.volume = o.volume;
    result.price = price;
  }
  save();
  result.retcode = TRADE_RETCODE_DONE;
  result.order = o.ticket;
  result.comment = string("Request executed");
  emit(std::string("{\"event\":\"trade\",\"action\":") + (market ? "\"deal\"" : "\"pending\"") +
       ",\"type\":" + std::to_string(type) + ",\"symbol\":" + json_escape(o.symbol) + ",\"volume\":" +
       num(o.volume) + ",\"price\":" + num(price) + ",\"sl\":" + num(o.sl) + ",\"tp\":" + num(o.tp) +
       ",\"order\":" + std::to_string(o.ticket) + event + ",\"magic\":" + std::to_string(o.magic) +
       ",\"filling\":" + std::to_string(o.filling) + ",\"comment\":" + json_escape(o.comment) + "}");
  if (t.crash_after_trade > 0 && t.requests == t.crash_after_trade) crash("after_trade");
  return true;
}

}  // namespace mt5term

// ----------------------------------------------------------------------------------------
// Section: the trading built-ins
// ----------------------------------------------------------------------------------------
inline string Symbol() {
  if (mt5term::terminal().symbols.empty()) return string("");
  return string(mt5term::terminal().symbols[0].name.c_str());
}
#define _Symbol (Symbol())

inline bool SymbolSelect(const string &name, bool select) {
  mt5term::Symbol *s = mt5term::find_symbol(name.utf8());
  if (s == nullptr) {
    mql5h::last_error() = ERR_MARKET_UNKNOWN_SYMBOL;
    return false;
  }
  s->selected = select;
  return true;
}

inline double SymbolInfoDouble(const string &name, ENUM_SYMBOL_INFO_DOUBLE property) {
  mt5term::Symbol *s = mt5term::find_symbol(name.utf8());
  if (s == nullptr) {
    mql5h::last_error() = ERR_MARKET_UNKNOWN_SYMBOL;
    return 0;
  }
  switch (property) {
    case SYMBOL_BID: return s->bid;
    case SYMBOL_ASK: return s->ask;
    case SYMBOL_POINT: return s->point();
    case SYMBOL_TRADE_TICK_SIZE: return s->tick_size();
    case SYMBOL_VOLUME_MIN: return s->vmin;
    case SYMBOL_VOLUME_MAX: return s->vmax;
    case SYMBOL_VOLUME_STEP: return s->step;
  }
  mql5h::not_emulated("SymbolInfoDouble property " + std::to_string((int)property));
}

inline long SymbolInfoInteger(const string &name, ENUM_SYMBOL_INFO_INTEGER property) {
  mt5term::Symbol *s = mt5term::find_symbol(name.utf8());
  if (s == nullptr) {
    mql5h::last_error() = ERR_MARKET_UNKNOWN_SYMBOL;
    return 0;
  }
  switch (property) {
    case SYMBOL_SELECT: return s->selected ? 1 : 0;
    case SYMBOL_DIGITS: return s->digits;
    case SYMBOL_TRADE_STOPS_LEVEL: return 0;
    case SYMBOL_TRADE_EXEMODE: return s->exemode;
    case SYMBOL_EXPIRATION_MODE: return SYMBOL_EXPIRATION_GTC | SYMBOL_EXPIRATION_DAY | SYMBOL_EXPIRATION_SPECIFIED;
    case SYMBOL_FILLING_MODE: return s->filling;
    case SYMBOL_ORDER_MODE: return 127;
  }
  mql5h::not_emulated("SymbolInfoInteger property " + std::to_string((int)property));
}

enum ENUM_TERMINAL_INFO_INTEGER { TERMINAL_CONNECTED = 6, TERMINAL_TRADE_ALLOWED = 8 };

// The terminal's Algo Trading button (mt5term::terminal().algo_trading) and its connection.
inline long TerminalInfoInteger(ENUM_TERMINAL_INFO_INTEGER property) {
  switch (property) {
    case TERMINAL_CONNECTED: return mt5term::terminal().connected ? 1 : 0;
    case TERMINAL_TRADE_ALLOWED: return mt5term::terminal().algo_trading ? 1 : 0;
  }
  mql5h::not_emulated("TerminalInfoInteger property " + std::to_string((int)property));
}

inline bool OrderSend(const MqlTradeRequest &request, MqlTradeResult &result) {
  if (!mt5term::terminal().algo_trading) {
    result = MqlTradeResult();
    return mt5term::fail(result, TRADE_RETCODE_CLIENT_DISABLES_AT);
  }
  if (!mt5term::terminal().connected) {
    result = MqlTradeResult();
    return mt5term::fail(result, TRADE_RETCODE_CONNECTION);
  }
  return mt5term::trade(request, result);
}

// Positions
inline int PositionsTotal() { return (int)mt5term::terminal().positions.size(); }
inline ulong PositionGetTicket(int index) {
  mt5term::Terminal &t = mt5term::terminal();
  if (index < 0 || index >= (int)t.positions.size()) {
    mql5h::last_error() = ERR_TRADE_POSITION_NOT_FOUND;
    return 0;
  }
  t.selected_position = t.positions[(size_t)index].ticket;
  return t.selected_position;
}
inline bool PositionSelectByTicket(ulong ticket) {
  if (mt5term::position_by_ticket(ticket) == nullptr) {
    mql5h::last_error() = ERR_TRADE_POSITION_NOT_FOUND;
    return false;
  }
  mt5term::terminal().selected_position = ticket;
  return true;
}
inline const mt5term::Position *selected_position(const char *where) {
  const mt5term::Position *p = mt5term::position_by_ticket(mt5term::terminal().selected_position);
  if (p == nullptr) mql5h::last_error() = ERR_TRADE_POSITION_NOT_FOUND;
  (void)where;
  return p;
}
inline long PositionGetInteger(ENUM_POSITION_PROPERTY_INTEGER property) {
  const mt5term::Position *p = selected_position("PositionGetInteger");
  if (p == nullptr) return 0;
  switch (property) {
    case POSITION_TICKET: return (long)p->ticket;
    case POSITION_IDENTIFIER: return (long)p->ticket;
    case POSITION_TIME: return p->time;
    case POSITION_TYPE: return p->type;
    case POSITION_MAGIC: return p->magic;
  }
  mql5h::not_emulated("PositionGetInteger property");
}
inline double PositionGetDouble(ENUM_POSITION_PROPERTY_DOUBLE property) {
  const mt5term::Position *p = selected_position("PositionGetDouble");
  if (p == nullptr) return 0;
  switch (property) {
    case POSITION_VOLUME: return p->volume;
    case POSITION_PRICE_OPEN: return p->price;
    case POSITION_SL: return p->sl;
    case POSITION_TP: return p->tp;
    case POSITION_PRICE_CURRENT: {
      const mt5term::Symbol *s = mt5term::find_symbol(p->symbol);
      return s == nullptr ? 0 : (p->type == POSITION_TYPE_BUY ? s->bid : s->ask);
    }
  }
  mql5h::not_emulated("PositionGetDouble property");
}
inline string PositionGetString(ENUM_POSITION_PROPERTY_STRING property) {
  const mt5term::Position *p = selected_position("PositionGetString");
  if (p == nullptr) return string("");
  return string((property == POSITION_SYMBOL ? p->symbol : p->comment).c_str());
}

// Pending orders
inline int OrdersTotal() { return (int)mt5term::terminal().orders.size(); }
inline ulong OrderGetTicket(int index) {
  mt5term::Terminal &t = mt5term::terminal();
  if (index < 0 || index >= (int)t.orders.size()) {
    mql5h::last_error() = ERR_TRADE_ORDER_NOT_FOUND;
    return 0;
  }
  t.selected_order = t.orders[(size_t)index].ticket;
  return t.selected_order;
}
inline bool OrderSelect(ulong ticket) {
  if (mt5term::order_by_ticket(mt5term::terminal().orders, ticket) == nullptr) {
    mql5h::last_error() = ERR_TRADE_ORDER_NOT_FOUND;
    return false;
  }
  mt5term::terminal().selected_order = ticket;
  return true;
}
namespace mt5term {
inline long order_integer(const Order &o, ENUM_ORDER_PROPERTY_INTEGER property) {
  switch (property) {
    case ORDER_TICKET: return (long)o.ticket;
    case ORDER_TIME_SETUP: return o.time;
    case ORDER_TYPE: return o.type;
    case ORDER_STATE: return o.state;
    case ORDER_MAGIC: return o.magic;
    case ORDER_POSITION_ID: return (long)o.position_id;
    case ORDER_TYPE_FILLING: return o.filling;
    case ORDER_TYPE_TIME: return ORDER_TIME_GTC;
  }
  mql5h::not_emulated("order integer property");
}
inline double order_double(const Order &o, ENUM_ORDER_PROPERTY_DOUBLE property) {
  switch (property) {
    case ORDER_VOLUME_INITIAL: return o.volume;
    case ORDER_VOLUME_CURRENT: return o.state == ORDER_STATE_PLACED ? o.volume : 0;
    case ORDER_PRICE_OPEN: return o.price;
    case ORDER_SL: return o.sl;
    case ORDER_TP: return o.tp;
  }
  mql5h::not_emulated("order double property");
}
}  // namespace mt5term
inline long OrderGetInteger(ENUM_ORDER_PROPERTY_INTEGER property) {
  const mt5term::Order *o = mt5term::order_by_ticket(mt5term::terminal().orders, mt5term::terminal().selected_order);
  if (o == nullptr) {
    mql5h::last_error() = ERR_TRADE_ORDER_NOT_FOUND;
    return 0;
  }
  return mt5term::order_integer(*o, property);
}
inline double OrderGetDouble(ENUM_ORDER_PROPERTY_DOUBLE property) {
  const mt5term::Order *o = mt5term::order_by_ticket(mt5term::terminal().orders, mt5term::terminal().selected_order);
  if (o == nullptr) {
    mql5h::last_error() = ERR_TRADE_ORDER_NOT_FOUND;
    return 0;
  }
  return mt5term::order_double(*o, property);
}
inline string OrderGetString(ENUM_ORDER_PROPERTY_STRING property) {
  const mt5term::Order *o = mt5term::order_by_ticket(mt5term::terminal().orders, mt5term::terminal().selected_order);
  if (o == nullptr) {
    mql5h::last_error() = ERR_TRADE_ORDER_NOT_FOUND;
    return string("");
  }
  return string((property == ORDER_SYMBOL ? o->symbol : o->comment).c_str());
}

// History: HistorySelect(from, to) selects the deals and orders of that period; the
// HistoryDeal*/HistoryOrder* getters only see what is selected (as in MT5).
inline bool HistorySelect(datetime from, datetime to) {
  mt5term::Terminal &t = mt5term::terminal();
  t.history_deal_sel.clear();
  t.history_order_sel.clear();
  for (const mt5term::Deal &d : t.deals)
    if (d.time >= (long)from && d.time <= (long)to) t.history_deal_sel.push_back(d.ticket);
  for (const mt5term::Order &o : t.history_orders)
    if (o.time >= (long)from && o.time <= (long)to) t.history_order_sel.push_back(o.ticket);
  return true;
}
inline bool HistoryDealSelect(ulong ticket) {
  mt5term::Terminal &t = mt5term::terminal();
  t.history_deal_sel.clear();
  t.history_order_sel.clear();
  if (mt5term::deal_by_ticket(ticket) == nullptr) {
    mql5h::last_error() = ERR_TRADE_DEAL_NOT_FOUND;
    return false;
  }
  t.history_deal_sel.push_back(ticket);
  return true;
}
inline bool HistoryOrderSelect(ulong ticket) {
  mt5term::Terminal &t = mt5term::terminal();
  t.history_deal_sel.clear();
  t.history_order_sel.clear();
  if (mt5term::order_by_ticket(t.history_orders, ticket) == nullptr) {
    mql5h::last_error() = ERR_TRADE_ORDER_NOT_FOUND;
    return false;
  }
  t.history_order_sel.push_back(ticket);
  return true;
}
inline int HistoryDealsTotal() { return (int)mt5term::terminal().history_deal_sel.size(); }
inline int HistoryOrdersTotal() { return (int)mt5term::terminal().history_order_sel.size(); }
inline ulong HistoryDealGetTicket(int index) {
  mt5term::Terminal &t = mt5term::terminal();
  if (index < 0 || index >= (int)t.history_deal_sel.size()) return 0;
  return t.history_deal_sel[(size_t)index];
}
inline ulong HistoryOrderGetTicket(int index) {
  mt5term::Terminal &t = mt5term::terminal();
  if (index < 0 || index >= (int)t.history_order_sel.size()) return 0;
  return t.history_order_sel[(size_t)index];
}
inline const mt5term::Deal *selected_deal(ulong ticket) {
  if (!mt5term::in(mt5term::terminal().history_deal_sel, ticket)) {
    mql5h::last_error() = ERR_TRADE_DEAL_NOT_FOUND;
    return nullptr;
  }
  return mt5term::deal_by_ticket(ticket);
}
inline long HistoryDealGetInteger(ulong ticket, ENUM_DEAL_PROPERTY_INTEGER property) {
  const mt5term::Deal *d = selected_deal(ticket);
  if (d == nullptr) return 0;
  switch (property) {
    case DEAL_TICKET: return (long)d->ticket;
    case DEAL_ORDER: return (long)d->order;
    case DEAL_TIME: return d->time;
    case DEAL_TYPE: return d->type;
    case DEAL_ENTRY: return d->entry;
    case DEAL_MAGIC: return d->magic;
    case DEAL_POSITION_ID: return (long)d->position_id;
  }
  mql5h::not_emulated("HistoryDealGetInteger property");
}
inline double HistoryDealGetDouble(ulong ticket, ENUM_DEAL_PROPERTY_DOUBLE property) {
  const mt5term::Deal *d = selected_deal(ticket);
  if (d == nullptr) return 0;
  return property == DEAL_VOLUME ? d->volume : d->price;
}
inline string HistoryDealGetString(ulong ticket, ENUM_DEAL_PROPERTY_STRING property) {
  const mt5term::Deal *d = selected_deal(ticket);
  if (d == nullptr) return string("");
  return string((property == DEAL_SYMBOL ? d->symbol : d->comment).c_str());
}
inline const mt5term::Order *selected_history_order(ulong ticket) {
  if (!mt5term::in(mt5term::terminal().history_order_sel, ticket)) {
    mql5h::last_error() = ERR_TRADE_ORDER_NOT_FOUND;
    return nullptr;
  }
  return mt5term::order_by_ticket(mt5term::terminal().history_orders, ticket);
}
inline long HistoryOrderGetInteger(ulong ticket, ENUM_ORDER_PROPERTY_INTEGER property) {
  const mt5term::Order *o = selected_history_order(ticket);
  return o == nullptr ? 0 : mt5term::order_integer(*o, property);
}
inline double HistoryOrderGetDouble(ulong ticket, ENUM_ORDER_PROPERTY_DOUBLE property) {
  const mt5term::Order *o = selected_history_order(ticket);
  return o == nullptr ? 0 : mt5term::order_double(*o, property);
}
inline string HistoryOrderGetString(ulong ticket, ENUM_ORDER_PROPERTY_STRING property) {
  const mt5term::Order *o = selected_history_order(ticket);
  if (o == nullptr) return string("");
  return string((property == ORDER_SYMBOL ? o->symbol : o->comment).c_str());
}

template <class T>
void ZeroMemory(T &value) {
  value = T();
}

#endif  // EAGATE_TERMINAL_H
