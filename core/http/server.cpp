#include "http/server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <httplib.h>  // percent-decoding of paths and queries, as cpp-httplib's clients encode them

#include "config/startup_error.hpp"
#include "http/responses.hpp"
#include "storage/storage.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace lgs {

namespace net = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

// A connected socket as Beast's synchronous reads and writes use it (SyncReadStream and
// SyncWriteStream): one recvmsg or sendmsg per call, header and body of a response in one
// gather write. Timeouts come from SO_RCVTIMEO and SO_SNDTIMEO, so no poll() precedes a call
// (unless a deadline is nearer than a read's own timeout).
class HttpServer::Connection {
 public:
  Connection(int fd, const ServerOptions& options)
      : fd_(fd),
        busy_waits_(std::max(1, options.io_timeout_seconds / std::max(1, options.keep_alive_seconds))),
        keep_alive_(options.keep_alive_seconds),
        io_timeout_(options.io_timeout_seconds) {
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    const timeval idle{options.keep_alive_seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
    const timeval io{options.io_timeout_seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &io, sizeof(io));
  }

  // After an error answer to a request that was not read to its end: the client may still be
  // sending. Closing with unread bytes would reset the connection, and the client could lose
  // the answer: end our side first, then read what still comes until the client is quiet for
  // 250 ms, for 2 s and 1 MiB at most, so that a client trickling bytes cannot keep the worker.
  void close_gently() {
    ::shutdown(fd_, SHUT_WR);
    const timeval linger{0, 250'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &linger, sizeof(linger));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    char scratch[16 * 1024];
    for (size_t total = 0; total < (1u << 20) && std::chrono::steady_clock::now() < deadline;) {
      const ssize_t n = ::recv(fd_, scratch, sizeof(scratch), 0);
      if (n == 0 || (n < 0 && errno != EINTR)) break;
      if (n > 0) total += static_cast<size_t>(n);
    }
  }

  // Reading a request's head begins. With nothing buffered (`idle`), the first read waits for
  // the request only the keep-alive timeout; once it has begun, the whole head must arrive
  // within the I/O timeout, however slowly it trickles in. Reads of a body wait up to the I/O
  // timeout each, in keep-alive sized steps, unless limit_reads set a deadline for them all.
  void begin_head(bool idle) {
    idle_ = idle;
    reading_head_ = true;
    deadline_.reset();
    if (!idle) deadline_ = std::chrono::steady_clock::now() + io_timeout_;
  }
  void end_head() {
    reading_head_ = false;
    deadline_.reset();
  }
  void limit_reads(std::chrono::steady_clock::duration within) { deadline_ = std::chrono::steady_clock::now() + within; }

  template <class Buffers>
  size_t read_some(const Buffers& buffers, error_code& ec) {
    Gather gather(buffers);
    if (gather.empty()) return ec = {}, 0;
    for (int waits = 1;; ++waits) {
      if (deadline_ && !wait_before(*deadline_)) {
        ec = error_code(ETIMEDOUT, boost::system::system_category());
        return 0;
      }
      const ssize_t n = ::recvmsg(fd_, &gather.message, 0);
      if (n > 0) {
        if (idle_ && reading_head_) deadline_ = std::chrono::steady_clock::now() + io_timeout_;
        idle_ = false;
        ec = {};
        return static_cast<size_t>(n);
      }
      if (n == 0) {
        ec = net::error::eof;
        return 0;
      }
      if (errno == EINTR) continue;
      if ((errno == EAGAIN || errno == EWOULDBLOCK) && !idle_ && waits < busy_waits_) continue;
      ec = failure();
      return 0;
    }
  }

  template <class Buffers>
  size_t write_some(const Buffers& buffers, error_code& ec) {
    Gather gather(buffers);
    if (gather.empty()) return ec = {}, 0;
    while (true) {
      const ssize_t n = ::sendmsg(fd_, &gather.message, MSG_NOSIGNAL);
      if (n >= 0) {
        ec = {};
        return static_cast<size_t>(n);
      }
      if (errno == EINTR) continue;
      ec = failure();
      return 0;
    }
  }

  // The throwing forms the stream concepts also ask for.
  template <class Buffers>
  size_t read_some(const Buffers& buffers) {
    error_code ec;
    return or_throw(read_some(buffers, ec), ec);
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers) {
    error_code ec;
    return or_throw(write_some(buffers, ec), ec);
  }

 private:
  // With a deadline closer than a read's own timeout, waits for data until the deadline; false
  // when it passed first.
  bool wait_before(std::chrono::steady_clock::time_point deadline) const {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return false;
    if (left >= keep_alive_) return true;
    pollfd ready{fd_, POLLIN, 0};
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    int rc;
    while ((rc = ::poll(&ready, 1, static_cast<int>(ms))) < 0 && errno == EINTR) {
    }
    return rc != 0;
  }

  // A buffer sequence as the iovec array of one system call (its first 16 buffers: the call
  // may transfer less than all, as read_some and write_some allow).
  struct Gather {
    iovec parts[16];
    msghdr message{};
    template <class Buffers>
    explicit Gather(const Buffers& buffers) {
      size_t count = 0;
      for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers) && count < 16; ++it) {
        const auto buffer = *it;
        if (buffer.size() == 0) continue;
        parts[count++] = iovec{const_cast<void*>(static_cast<const void*>(buffer.data())), buffer.size()};
      }
      message.msg_iov = parts;
      message.msg_iovlen = count;
    }
    bool empty() const { return message.msg_iovlen == 0; }
  };

  static size_t or_throw(size_t transferred, const error_code& ec) {
    if (ec) throw boost::system::system_error(ec);
    return transferred;
  }

  static error_code failure() {
    const int code = errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
    return error_code(code, boost::system::system_category());
  }

  int fd_;
  int busy_waits_;
  std::chrono::seconds keep_alive_;  // how long one read waits (SO_RCVTIMEO)
  std::chrono::seconds io_timeout_;
  bool idle_ = true;
  bool reading_head_ = false;
  std::optional<std::chrono::steady_clock::time_point> deadline_;  // for every read until then
};

namespace {

constexpr size_t kHeaderLimit = 64 * 1024;
constexpr uint64_t kDrainLimit = 64 * 1024;  // the largest body of a refused request still read

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string address_text(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET)
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr, text, sizeof(text));
  else if (address.ss_family == AF_INET6)
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr, text, sizeof(text));
  return text;
}

// A header value as text: bytes that are not UTF-8 are read as ISO-8859-1, as RFC 2616 and
// Starlette do, so that handlers and plugins only ever see valid UTF-8 (a JSON document, such as a
// run's config, cannot hold anything else).
std::string header_text(std::string_view value) {
  if (valid_utf8(value)) return std::string(value);
  std::string text;
  for (const unsigned char c : value) {
    if (c < 0x80) {
      text += static_cast<char>(c);
    } else {
      text += static_cast<char>(0xC0 | (c >> 6));
      text += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return text;
}

// What makes a request's framing unacceptable (RFC 9112 3.2, 6.1, 6.3), with the status to answer
// it with; status 0 when nothing does. Beast's parser takes a body as chunked only when chunked is
// the last transfer coding and otherwise reads none: the body would then be read as the next
// request (request smuggling), so such a request is refused, and the connection closed.
struct Refusal {
  int status = 0;
  std::string detail;
};
Refusal framing_problem(const http::request<http::empty_body>& head) {
  if (head.version() >= 11 && head.count(http::field::host) != 1)
    return {400, head.count(http::field::host) ? "The request has more than one Host header"
                                               : "The request has no Host header"};
  if (head.count(http::field::transfer_encoding) == 0) return {};
  if (head.version() < 11) return {400, "Transfer-Encoding is not allowed in an HTTP/1.0 request"};
  std::string codings;
  for (auto [at, end] = head.equal_range(http::field::transfer_encoding); at != end; ++at) {
    codings += codings.empty() ? "" : ",";
    codings += std::string(at->value());
  }
  std::vector<std::string> list;
  for (const auto& coding : http::token_list(codings)) list.emplace_back(coding);
  if (list.empty() || !boost::beast::iequals(list.back(), "chunked"))
    return {400, "The request's Transfer-Encoding does not end with chunked, so its length is unknown"};
  if (list.size() > 1) return {501, "Only the chunked transfer coding is supported"};
  return {};
}

HttpRequest to_request(const http::request<http::empty_body>& head, const std::string& remote_addr) {
  HttpRequest req;
  req.method = std::string(head.method_string());
  const auto target = head.target();
  const size_t question = target.find('?');
  // Bytes that are not UTF-8 are read as U+FFFD, as Starlette does: handlers, plugins and the
  // database only see text.
  req.path = utf8_or_replaced(httplib::detail::decode_url(std::string(target.substr(0, question)), false));
  if (question != target.npos) {
    QueryParams decoded;
    httplib::detail::parse_query_text(std::string(target.substr(question + 1)), decoded);
    for (auto& [name, value] : decoded) req.params.emplace(utf8_or_replaced(name), utf8_or_replaced(std::move(value)));
  }
  for (const auto& field : head) {
    const auto value = field.value();
    req.headers.emplace(std::string(field.name_string()), header_text({value.data(), value.size()}));
  }
  req.remote_addr = remote_addr;
  return req;
}

// The status to answer a request that could not be read with; 0 when the client left or went
// quiet, which gets no answer.
int status_for(const error_code& ec) {
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return 0;
  if (ec.category() == make_error_code(http::error::bad_target).category()) return 400;
  return 0;
}

// A NUL character (%00) in the path or the query. SQLite would keep it, PostgreSQL's text cuts
// a value short there (another thread or item would be read), so both refuse it alike.
bool has_nul(const HttpRequest& req) {
  return holds_nul(std::string_view(req.path)) ||
         std::any_of(req.params.begin(), req.params.end(), [](const auto& p) {
           return holds_nul(std::string_view(p.first)) || holds_nul(std::string_view(p.second));
         });
}

bool is_bodiless(int status) { return (status >= 100 && status < 200) || status == 204 || status == 304; }

}  // namespace

HttpServer::HttpServer(ServerOptions options, const Router& router, const Authenticator& authenticator,
                       CorsConfig cors)
    : options_(std::move(options)), router_(router), authenticator_(authenticator), cors_(std::move(cors)) {}

HttpServer::~HttpServer() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

void HttpServer::bind() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(options_.port);
  if (const int rc = ::getaddrinfo(options_.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    throw StartupError(fmt::format("cannot listen on {}:{}: {}", options_.host, options_.port, gai_strerror(rc)));
  int error = 0;
  for (addrinfo* at = found; at && listen_fd_ < 0; at = at->ai_next) {
    const int fd = ::socket(at->ai_family, at->ai_socktype | SOCK_CLOEXEC, at->ai_protocol);
    if (fd < 0) {
      error = errno;
      continue;
    }
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (::bind(fd, at->ai_addr, at->ai_addrlen) == 0 && ::listen(fd, options_.listen_backlog) == 0) {
      listen_fd_ = fd;
    } else {
      error = errno;
      ::close(fd);
    }
  }
  ::freeaddrinfo(found);
  if (listen_fd_ < 0)
    throw StartupError(fmt::format("cannot listen on {}:{}: {}", options_.host, options_.port, std::strerror(error)));
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &length);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                            : reinterpret_cast<sockaddr_in&>(bound).sin_port);
}

void HttpServer::serve() {
  for (int i = 0; i < options_.http_threads; ++i) workers_.emplace_back([this] { work(); });
  int wait_ms = -1;  // how long the next accept may wait: -1 while every queued connection has a free worker
  while (true) {
    if (wait_ms >= 0) {
      pollfd listening{listen_fd_, POLLIN, 0};
      if (::poll(&listening, 1, wait_ms) == 0) {  // (a stop shuts the socket down: it is readable then)
        wait_ms = turn_away_overdue();
        continue;
      }
    }
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length, SOCK_CLOEXEC);
    const int error = errno;
    {
      std::unique_lock lock(mutex_);
      if (stopping_) {
        if (fd >= 0) ::close(fd);
        break;
      }
      if (fd >= 0) {
        accepted_.push_back({fd, address_text(address), std::chrono::steady_clock::now()});
        accepted_cv_.notify_one();
      } else if (error != EINTR && error != ECONNABORTED) {
        // Out of descriptors or memory: wait for connections to close rather than spin.
        log::warn("accepting a connection failed: {}", std::strerror(error));
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    wait_ms = turn_away_overdue();
  }
  for (auto& worker : workers_) worker.join();
  workers_.clear();
}

// Every worker serves an open connection (event streams, slow clients, more connections than
// workers): a connection that has waited the I/O timeout for one is answered 503, rather than
// left waiting without a word. Returns how long the accept loop may wait before it looks again:
// -1 (until a connection comes) while every queued connection has a free worker.
int HttpServer::turn_away_overdue() {
  const auto now = std::chrono::steady_clock::now();
  const auto patience = std::chrono::seconds(options_.io_timeout_seconds);
  std::vector<int> overdue;
  int wait_ms = -1;
  {
    std::lock_guard lock(mutex_);
    while (!accepted_.empty() && now - accepted_.front().since >= patience) {
      overdue.push_back(accepted_.front().fd);
      accepted_.pop_front();
    }
    if (accepted_.size() > idle_workers_) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(accepted_.front().since + patience - now);
      wait_ms = static_cast<int>(std::max<int64_t>(1, left.count()));
    }
  }
  if (overdue.empty()) return wait_ms;
  if (now - busy_logged_ >= std::chrono::minutes(1)) {
    busy_logged_ = now;
    log::warn("all {} HTTP workers stayed busy for {} s: new connections are answered 503 (raise --http-threads)",
              options_.http_threads, options_.io_timeout_seconds);
  }
  for (const int fd : overdue) turn_away(fd);
  return wait_ms;
}

// Ends the accept loop at once; workers finish the request they serve (a response being
// written still goes out) and connections waiting for their next request are closed.
void HttpServer::stop() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  for (const int fd : open_) ::shutdown(fd, SHUT_RD);
  accepted_cv_.notify_all();
}

void HttpServer::work() {
  while (true) {
    Accepted next;
    {
      std::unique_lock lock(mutex_);
      ++idle_workers_;
      accepted_cv_.wait(lock, [this] { return stopping_ || !accepted_.empty(); });
      --idle_workers_;
      if (stopping_) {
        for (const auto& waiting : accepted_) ::close(waiting.fd);
        accepted_.clear();
        return;
      }
      next = std::move(accepted_.front());
      accepted_.pop_front();
      open_.insert(next.fd);
    }
    try {
      serve_connection(next.fd, next.remote_addr);
    } catch (const std::exception& e) {
      log::error("connection from {} failed: {}", next.remote_addr, e.what());
    }
    {
      std::lock_guard lock(mutex_);
      open_.erase(next.fd);
    }
    ::close(next.fd);
  }
}

namespace {

// Writes `res` (only its head for HEAD); false when the connection must close after it (or
// broke while writing).
template <class Stream>
bool write_response(Stream& stream, HttpResponse& res, unsigned version, bool keep_alive, bool head_only) {
  if (res.get_header_value("Connection") == "close") keep_alive = false;
  res.headers.erase("Connection");
  const auto fill_head = [&](auto& out) {
    out.version(version);
    out.result(static_cast<unsigned>(res.status));
    for (auto& [name, value] : res.headers) out.insert(name, value);
    out.keep_alive(keep_alive);
  };
  error_code ec;
  if (!res.stream || is_bodiless(res.status)) {
    http::response<http::string_body> out;
    fill_head(out);
    if (!is_bodiless(res.status)) {  // those have no length (RFC 9110 8.6)
      out.body() = std::move(res.body);
      out.prepare_payload();
    }
    if (head_only) {
      http::response_serializer<http::string_body> serializer(out);
      http::write_header(stream, serializer, ec);
    } else {
      http::write(stream, out, ec);
    }
    return !ec && keep_alive;
  }

  // An event stream is sent in chunks; HTTP/1.0 has none, so there its end is the connection's.
  const bool chunked = version >= 11;
  if (!chunked && !head_only) keep_alive = false;
  http::response<http::empty_body> out;
  fill_head(out);
  out.chunked(chunked);
  http::response_serializer<http::empty_body> serializer(out);
  http::write_header(stream, serializer, ec);
  if (head_only) return !ec && keep_alive;
  // Run even when the head could not be written: the stream learns at its first write that
  // the client is gone, as it would later (a run may be cancelled on disconnect).
  const ChunkWriter write = [&](std::string_view text) {
    if (ec || text.empty()) return !ec;
    const net::const_buffer data(text.data(), text.size());
    if (chunked)
      net::write(stream, http::make_chunk(data), ec);
    else
      net::write(stream, data, ec);
    return !ec;
  };
  if (!res.stream(write) || ec) return false;
  if (chunked) net::write(stream, http::make_chunk_last(), ec);
  return !ec && keep_alive;
}

// A request that cannot be served as it came: answered with `status` and `detail`, and the
// connection closed.
template <class Stream>
void refuse(Stream& stream, int status, const std::string& detail) {
  HttpResponse res;
  send_error(res, status, detail);
  write_response(stream, res, 11, false, false);
  stream.close_gently();
}

// A request that could not be read (`ec`): refused, when the client is still there to hear it.
// `detail` says what could not be read; a body over the limit says so instead.
template <class Stream>
void refuse_unreadable(Stream& stream, const error_code& ec, size_t max_body_bytes, const std::string& detail) {
  const int status = status_for(ec);
  if (!status) return;
  refuse(stream, status,
         status == 413 ? fmt::format("The request body is larger than {} bytes", max_body_bytes) : detail);
}

// Whether the client waits for "100 Continue" before it sends the body; HTTP/1.0 has no such
// answer (RFC 9110 10.1.1).
bool expects_continue(const http::request<http::empty_body>& head) {
  return head.version() >= 11 && boost::beast::iequals(head[http::field::expect], "100-continue");
}

// The body of an allowed request into `body`. False when the connection is done (answered if
// the body was refused, as too large or malformed).
template <class Stream>
bool read_body(Stream& connection, boost::beast::flat_buffer& buffer, http::request_parser<http::empty_body>&& head,
               std::string& body, size_t max_body_bytes) {
  error_code ec;
  if (expects_continue(head.get())) net::write(connection, net::buffer("HTTP/1.1 100 Continue\r\n\r\n", 25), ec);
  if (!ec) {
    http::request_parser<http::string_body> reader(std::move(head));
    http::read(connection, buffer, reader, ec);
    body = std::move(reader.get().body());
  }
  if (!ec) return true;
  refuse_unreadable(connection, ec, max_body_bytes, "The request body could not be read");
  return false;
}

// The body of a refused request, read and dropped so that the connection can serve the next
// request: only a small one (kDrainLimit), that the client sends without waiting for "100
// Continue", and within 2 s. False when it is not read: the answer then goes out at once and
// the connection closes.
template <class Stream>
bool drain_body(Stream& connection, boost::beast::flat_buffer& buffer, http::request_parser<http::empty_body>&& head) {
  const auto length = head.content_length();
  if (expects_continue(head.get()) || !length || *length > kDrainLimit) return false;
  connection.limit_reads(std::chrono::seconds(2));
  http::request_parser<http::buffer_body> drain(std::move(head));
  char scratch[16 * 1024];
  error_code ec;
  while (!ec && !drain.is_done()) {
    drain.get().body().data = scratch;
    drain.get().body().size = sizeof(scratch);
    http::read(connection, buffer, drain, ec);
    if (ec == http::error::need_buffer) ec = {};
  }
  return !ec;
}

}  // namespace

// Answers 503 from the accept loop, which must not wait for the client: what the client sent
// is read as far as it came, since closing with unread bytes would reset the connection and
// the client could lose the answer.
void HttpServer::turn_away(int fd) {
  const auto drop_input = [fd] {  // at most a request head's worth: a client may never stop sending
    char scratch[16 * 1024];
    for (size_t total = 0; total < kHeaderLimit;) {
      const ssize_t n = ::recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT);
      if (n <= 0) break;
      total += static_cast<size_t>(n);
    }
  };
  drop_input();
  Connection connection(fd, options_);
  HttpResponse res;
  send_error(res, 503, fmt::format("The server is busy: all {} of its HTTP workers serve open connections; retry shortly",
                                   options_.http_threads),
             {{"Retry-After", "1"}});
  write_response(connection, res, 11, false, false);  // a small answer into an empty send buffer
  ::shutdown(fd, SHUT_WR);
  drop_input();
  ::close(fd);
}

void HttpServer::serve_connection(int fd, const std::string& remote_addr) {
  Connection connection(fd, options_);
  boost::beast::flat_buffer buffer;
  while (true) {
    connection.begin_head(buffer.size() == 0);
    http::request_parser<http::empty_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(options_.max_body_bytes);
    error_code ec;
    http::read_header(connection, buffer, parser, ec);
    connection.end_head();
    if (ec) {
      refuse_unreadable(connection, ec, options_.max_body_bytes, "");
      return;
    }
    if (const Refusal refusal = framing_problem(parser.get()); refusal.status) {
      refuse(connection, refusal.status, refusal.detail);
      return;
    }
    const HttpRequest req = to_request(parser.get(), remote_addr);
    const unsigned version = parser.get().version();
    const bool head_only = req.method == "HEAD";
    bool keep_alive = parser.get().keep_alive();
    HttpResponse res;

    // Routing, CORS and authentication come before the body is read, so the auth plugin sees
    // the path parameters, public routes skip it, and a rejected body is never stored.
    const RouteMatch match = router_.match(head_only ? "GET" : req.method, req.path);
    apply_cors(req, res);
    GateDecision decision;
    const bool preflight = req.method == "OPTIONS";
    if (preflight || (match.route && match.route->access == Access::open)) {
      decision.kind = AuthDecision::Kind::allowed;
    } else {
      decision = authenticator_.authenticate(req, match.params);
    }
    const bool allowed = decision.kind == AuthDecision::Kind::allowed;

    std::string body;
    bool body_unread = false;
    if (!parser.is_done()) {
      if (allowed) {
        if (!read_body(connection, buffer, std::move(parser), body, options_.max_body_bytes)) return;
      } else if (!keep_alive || !drain_body(connection, buffer, std::move(parser))) {
        keep_alive = false;
        body_unread = true;
      }
    }

    if (preflight) {
      answer_preflight(req, res);
    } else {
      dispatch(req, match, decision, body, res);
    }
    if (!write_response(connection, res, version, keep_alive, head_only) || stopping_) {
      if (body_unread) connection.close_gently();
      return;
    }
  }
}

void HttpServer::answer_preflight(const HttpRequest& req, HttpResponse& res) const {
  res.status = 204;
  if (!res.has_header("Access-Control-Allow-Origin")) return;  // not an allowed origin
  auto allowed = [](const std::vector<std::string>& list, const std::string& requested) {
    return std::find(list.begin(), list.end(), "*") != list.end() ? requested : join(list);
  };
  res.set_header("Access-Control-Allow-Methods",
                 allowed(cors_.allow_methods, req.get_header_value("Access-Control-Request-Method")));
  res.set_header("Access-Control-Allow-Headers",
                 allowed(cors_.allow_headers, req.get_header_value("Access-Control-Request-Headers")));
  res.set_header("Access-Control-Max-Age", std::to_string(cors_.max_age));
}

void HttpServer::apply_cors(const HttpRequest& req, HttpResponse& res) const {
  const std::string origin = req.get_header_value("Origin");
  if (origin.empty()) return;
  const bool any = std::find(cors_.allow_origins.begin(), cors_.allow_origins.end(), "*") != cors_.allow_origins.end();
  const bool listed = std::find(cors_.allow_origins.begin(), cors_.allow_origins.end(), origin) != cors_.allow_origins.end();
  if (!any && !listed) return;
  // With credentials, browsers reject "*": name the origin instead.
  res.set_header("Access-Control-Allow-Origin", any && !cors_.allow_credentials ? "*" : origin);
  if (!any || cors_.allow_credentials) res.set_header("Vary", "Origin");
  if (cors_.allow_credentials) res.set_header("Access-Control-Allow-Credentials", "true");
  res.set_header("Access-Control-Expose-Headers", join(cors_.expose_headers));
}

void HttpServer::dispatch(const HttpRequest& req, const RouteMatch& match, const GateDecision& decision,
                          const std::string& body, HttpResponse& res) const {
  if (decision.kind != AuthDecision::Kind::allowed) {
    send_error(res, decision.status, decision.detail, decision.headers);
    return;
  }
  if (!match.route) {
    send_error(res, match.other_method ? 405 : 404, "");
    return;
  }
  const User* user = authenticator_.enabled() && match.route->access != Access::open ? decision.user.get() : nullptr;
  // A failed handler's answer replaces whatever it had set, CORS headers aside.
  auto fail = [&](int status, const std::string& detail, const std::vector<std::pair<std::string, std::string>>& headers) {
    res = HttpResponse{};
    apply_cors(req, res);
    send_error(res, status, detail, headers);
  };
  try {
    if (has_nul(req)) throw ApiError{422, "The request's path and query may not contain the NUL character (%00)"};
    ApiRequest api(req, body, match.params, user);
    match.route->handler(api, res);
  } catch (const ApiError& e) {
    fail(e.status, e.detail, e.headers);
  } catch (const StorageUnavailable& e) {  // the database is down or restarting: worth a retry
    log::warn("{} {}: {}", req.method, req.path, e.what());
    fail(503, "The database is unavailable; retry shortly", {{"Retry-After", "1"}});
  } catch (const std::exception& e) {
    log::error("{} {} failed: {}", req.method, req.path, e.what());
    fail(500, "Internal server error", {});
  }
}

}  // namespace lgs
