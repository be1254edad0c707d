// Trade/Trade.mqh for the harness: a CTrade with the public interface of the MQL5 standard
// library's class (same method names, parameters, defaults and result accessors), sending its
// requests to the mock trade server of terminal.h through OrderSend. The real class is not
// copied; only what it is documented to do is: Buy/Sell fill a zero price with the ask/bid,
// pending orders need a price, every request carries the magic number, deviation and filling
// mode set on the object, and the result of the last request stays readable.
//
// In MetaTrader 5, #include <Trade/Trade.mqh> finds the terminal's own file instead.
#ifndef EAGATE_HARNESS_TRADE_MQH
#define EAGATE_HARNESS_TRADE_MQH

#include "../../terminal.h"

class CTrade {
 protected:
  MqlTradeRequest m_request;
  MqlTradeResult m_result;
  ulong m_magic = 0;
  ulong m_deviation = 10;
  ENUM_ORDER_TYPE_FILLING m_type_filling = ORDER_FILLING_FOK;
  bool m_async_mode = false;

  void ClearStructures() {
    ZeroMemory(m_request);
    ZeroMemory(m_result);
  }
  bool Refuse(uint retcode) {
    m_result.retcode = retcode;
    return false;
  }
  // As the real class: once the program is being stopped (IsStopped()), every trade method
  // refuses with TRADE_RETCODE_CLIENT_DISABLES_AT before sending anything.
  bool Stopping() {
    if (!::IsStopped()) return false;
    m_result.retcode = TRADE_RETCODE_CLIENT_DISABLES_AT;
    return true;
  }

 public:
  CTrade() { ClearStructures(); }

  void SetAsyncMode(const bool mode) {
    if (mode) mql5h::not_emulated("CTrade asynchronous mode");
    m_async_mode = mode;
  }
  void SetExpertMagicNumber(const ulong magic) { m_magic = magic; }
  void SetDeviationInPoints(const ulong deviation) { m_deviation = deviation; }
  void SetTypeFilling(const ENUM_ORDER_TYPE_FILLING filling) { m_type_filling = filling; }
  bool SetTypeFillingBySymbol(const string &symbol) {
    long modes = SymbolInfoInteger(symbol, SYMBOL_FILLING_MODE);
    if ((modes & SYMBOL_FILLING_FOK) != 0) m_type_filling = ORDER_FILLING_FOK;
    else if ((modes & SYMBOL_FILLING_IOC) != 0) m_type_filling = ORDER_FILLING_IOC;
    else m_type_filling = ORDER_FILLING_RETURN;
    return true;
  }

  // Result of the last request
  void Result(MqlTradeResult &result) const { result = m_result; }
  uint ResultRetcode() const { return m_result.retcode; }
  string ResultRetcodeDescription() const { return string(mt5term::retcode_text(m_result.retcode)); }
  int ResultRetcodeExternal() const { return m_result.retcode_external; }
  ulong ResultDeal() const { return m_result.deal; }
  ulong ResultOrder() const { return m_result.order; }
  double ResultVolume() const { return m_result.volume; }
  double ResultPrice() const { return m_result.price; }
  double ResultBid() const { return m_result.bid; }
  double ResultAsk() const { return m_result.ask; }
  string ResultComment() const { return m_result.comment; }
  ulong RequestMagic() const { return m_request.magic; }
  string RequestComment() const { return m_request.comment; }
  ENUM_ORDER_TYPE_FILLING RequestTypeFilling() const { return m_request.type_filling; }

  virtual bool OrderSend(const MqlTradeRequest &request, MqlTradeResult &result) {
    return ::OrderSend(request, result);
  }

  // Positions
  bool PositionOpen(const string &symbol, const ENUM_ORDER_TYPE order_type, const double volume,
                    const double price, const double sl, const double tp, const string &comment = "") {
    if (Stopping()) return false;
    ClearStructures();
    if (order_type != ORDER_TYPE_BUY && order_type != ORDER_TYPE_SELL) return Refuse(TRADE_RETCODE_INVALID);
    m_request.action = TRADE_ACTION_DEAL;
    m_request.symbol = symbol;
    m_request.magic = m_magic;
    m_request.volume = volume;
    m_request.type = order_type;
    m_request.price = price;
    m_request.sl = sl;
    m_request.tp = tp;
    m_request.deviation = m_deviation;
    m_request.type_filling = m_type_filling;
    m_request.comment = comment;
    return OrderSend(m_request, m_result);
  }
  bool PositionModify(const ulong ticket, const double sl, const double tp) {
    if (Stopping()) return false;
    if (!PositionSelectByTicket(ticket)) return false;
    ClearStructures();
    m_request.action = TRADE_ACTION_SLTP;
    m_request.position = ticket;
    m_request.symbol = PositionGetString(POSITION_SYMBOL);
    m_request.magic = m_magic;
    m_request.sl = sl;
    m_request.tp = tp;
    return OrderSend(m_request, m_result);
  }
  bool PositionClose(const ulong ticket, const ulong deviation = ULONG_MAX) {
    if (Stopping()) return false;
    if (!PositionSelectByTicket(ticket)) return false;
    return ClosePart(ticket, PositionGetDouble(POSITION_VOLUME), deviation);
  }
  bool PositionClosePartial(const ulong ticket, const double volume, const ulong deviation = ULONG_MAX) {
    if (Stopping()) return false;
    if (!PositionSelectByTicket(ticket)) return false;
    double held = PositionGetDouble(POSITION_VOLUME);
    return ClosePart(ticket, volume < held ? volume : held, deviation);
  }

  // Pending orders
  bool OrderOpen(const string &symbol, const ENUM_ORDER_TYPE order_type, const double volume,
                 const double limit_price, const double price, const double sl, const double tp,
                 ENUM_ORDER_TYPE_TIME type_time = ORDER_TIME_GTC, const datetime expiration = 0,
                 const string &comment = "") {
    if (Stopping()) return false;
    ClearStructures();
    if (order_type == ORDER_TYPE_BUY || order_type == ORDER_TYPE_SELL) return Refuse(TRADE_RETCODE_INVALID);
    m_request.action = TRADE_ACTION_PENDING;
    m_request.symbol = symbol;
    m_request.magic = m_magic;
    m_request.volume = volume;
    m_request.type = order_type;
    m_request.stoplimit = limit_price;
    m_request.price = price;
    m_request.sl = sl;
    m_request.tp = tp;
    m_request.type_time = type_time;
    m_request.expiration = expiration;
    m_request.type_filling = m_type_filling;
    m_request.comment = comment;
    return OrderSend(m_request, m_result);
  }
  bool OrderModify(const ulong ticket, const double price, const double sl, const double tp,
                   const ENUM_ORDER_TYPE_TIME type_time, const datetime expiration,
                   const double stoplimit = 0.0) {
    if (Stopping()) return false;
    ClearStructures();
    m_request.action = TRADE_ACTION_MODIFY;
    m_request.magic = m_magic;
    m_request.order = ticket;
    m_request.price = price;
    m_request.stoplimit = stoplimit;
    m_request.sl = sl;
    m_request.tp = tp;
    m_request.type_time = type_time;
    m_request.expiration = expiration;
    return OrderSend(m_request, m_result);
  }
  bool OrderDelete(const ulong ticket) {
    if (Stopping()) return false;
    ClearStructures();
    m_request.action = TRADE_ACTION_REMOVE;
    m_request.magic = m_magic;
    m_request.order = ticket;
    return OrderSend(m_request, m_result);
  }

  // Shortcuts
  bool Buy(const double volume, const string &symbol = NULL, double price = 0.0, const double sl = 0.0,
           const double tp = 0.0, const string &comment = "") {
    if (volume <= 0.0) { ClearStructures(); return Refuse(TRADE_RETCODE_INVALID_VOLUME); }
    string name = symbol == "" ? Symbol() : symbol;
    if (price == 0.0) price = SymbolInfoDouble(name, SYMBOL_ASK);
    return PositionOpen(name, ORDER_TYPE_BUY, volume, price, sl, tp, comment);
  }
  bool Sell(const double volume, const string &symbol = NULL, double price = 0.0, const double sl = 0.0,
            const double tp = 0.0, const string &comment = "") {
    if (volume <= 0.0) { ClearStructures(); return Refuse(TRADE_RETCODE_INVALID_VOLUME); }
    string name = symbol == "" ? Symbol() : symbol;
    if (price == 0.0) price = SymbolInfoDouble(name, SYMBOL_BID);
    return PositionOpen(name, ORDER_TYPE_SELL, volume, price, sl, tp, comment);
  }
  bool BuyLimit(const double volume, const double price, const string &symbol = NULL, const double sl = 0.0,
                const double tp = 0.0, const ENUM_ORDER_TYPE_TIME type_time = ORDER_TIME_GTC,
                const datetime expiration = 0, const string &comment = "") {
    return Pending(ORDER_TYPE_BUY_LIMIT, volume, price, symbol, sl, tp, type_time, expiration, comment);
  }
  bool BuyStop(const double volume, const double price, const string &symbol = NULL, const double sl = 0.0,
               const double tp = 0.0, const ENUM_ORDER_TYPE_TIME type_time = ORDER_TIME_GTC,
               const datetime expiration = 0, const string &comment = "") {
    return Pending(ORDER_TYPE_BUY_STOP, volume, price, symbol, sl, tp, type_time, expiration, comment);
  }
  bool SellLimit(const double volume, const double price, const string &symbol = NULL, const double sl = 0.0,
                 const double tp = 0.0, const ENUM_ORDER_TYPE_TIME type_time = ORDER_TIME_GTC,
                 const datetime expiration = 0, const string &comment = "") {
    return Pending(ORDER_TYPE_SELL_LIMIT, volume, price, symbol, sl, tp, type_time, expiration, comment);
  }
  bool SellStop(const double volume, const double price, const string &symbol = NULL, const double sl = 0.0,
                const double tp = 0.0, const ENUM_ORDER_TYPE_TIME type_time = ORDER_TIME_GTC,
                const datetime expiration = 0, const string &comment = "") {
    return Pending(ORDER_TYPE_SELL_STOP, volume, price, symbol, sl, tp, type_time, expiration, comment);
  }

 private:
  bool Pending(ENUM_ORDER_TYPE type, double volume, double price, const string &symbol, double sl, double tp,
               ENUM_ORDER_TYPE_TIME type_time, datetime expiration, const string &comment) {
    if (volume <= 0.0) { ClearStructures(); return Refuse(TRADE_RETCODE_INVALID_VOLUME); }
    if (price == 0.0) { ClearStructures(); return Refuse(TRADE_RETCODE_INVALID_PRICE); }
    string name = symbol == "" ? Symbol() : symbol;
    return OrderOpen(name, type, volume, 0.0, price, sl, tp, type_time, expiration, comment);
  }
  bool ClosePart(ulong ticket, double volume, ulong deviation) {
    string symbol = PositionGetString(POSITION_SYMBOL);
    bool buy = PositionGetInteger(POSITION_TYPE) == POSITION_TYPE_BUY;
    ClearStructures();
    m_request.action = TRADE_ACTION_DEAL;
    m_request.position = ticket;
    m_request.symbol = symbol;
    m_request.volume = volume;
    m_request.magic = m_magic;
    m_request.type = buy ? ORDER_TYPE_SELL : ORDER_TYPE_BUY;
    m_request.price = SymbolInfoDouble(symbol, buy ? SYMBOL_BID : SYMBOL_ASK);
    m_request.deviation = deviation == ULONG_MAX ? m_deviation : deviation;
    m_request.type_filling = m_type_filling;
    return OrderSend(m_request, m_result);
  }
};

#endif  // EAGATE_HARNESS_TRADE_MQH
