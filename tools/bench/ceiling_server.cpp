// The ceiling for tools/bench/authz.sh: a plain Boost.Beast server in langgraph-server's model
// (blocking sockets, one thread per connection, keep-alive, TCP_NODELAY), answering the two
// benchmarked routes with fixed bodies of the same shape and size as the real server's. No
// routing table, no JSON, no storage, no auth: what HTTP alone costs on this machine.
//
//   ceiling_server [--host 127.0.0.1] [--port 18400]
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

// One thread as GET /threads/{id} returns it (about 250 bytes).
std::string thread_json(const std::string& id) {
  return R"({"config":{},"created_at":"2025-01-01T00:00:00.000000+00:00","error":null,"interrupts":{},)"
         R"("metadata":{"owner":"user1"},"status":"idle","thread_id":")" +
         id + R"(","updated_at":"2025-01-01T00:00:00.000000+00:00","values":null})";
}

void serve(tcp::socket socket, const std::string& page) {
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  boost::beast::flat_buffer buffer;
  while (true) {
    http::request<http::string_body> req;
    http::read(socket, buffer, req, ec);
    if (ec) return;
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    const auto target = req.target();
    if (req.method() == http::verb::get && target == "/ok") {
      res.body() = R"({"ok":true})";
    } else if (req.method() == http::verb::get && target.starts_with("/threads/")) {
      res.body() = thread_json(std::string(target.substr(9)));
    } else if (req.method() == http::verb::post && target == "/threads/search") {
      res.set("X-Pagination-Total", "1000");
      res.body() = page;
    } else {
      res.result(http::status::not_found);
      res.body() = R"({"detail":"Not Found"})";
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    http::write(socket, res, ec);
    if (ec || !req.keep_alive()) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 18400;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--host")) host = argv[i + 1];
    else if (!std::strcmp(argv[i], "--port")) port = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--http-threads")) continue;  // a thread per connection, always
    else {
      std::cerr << "usage: ceiling_server [--host H] [--port P]\n";
      return 2;
    }
  }

  const std::string one = thread_json("6ac69ab7-1a4a-4af8-9557-617da95c3519");
  std::string page = "[";  // a search page of 10 threads, like POST /threads/search {"limit": 10}
  for (int i = 0; i < 10; ++i) page += (i ? "," : "") + one;
  page += "]";

  try {
    net::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address(host), static_cast<unsigned short>(port)));
    acceptor.listen(1024);
    while (true) {
      tcp::socket socket(io);
      acceptor.accept(socket);
      std::thread(serve, std::move(socket), std::cref(page)).detach();
    }
  } catch (const std::exception& e) {
    std::cerr << "ceiling_server: " << e.what() << "\n";
    return 1;
  }
}
