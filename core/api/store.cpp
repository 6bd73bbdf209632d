// The store: JSON documents under (namespace, key). Every operation is authorized as
// store:<action>; a handler may rewrite namespace, key and value, and the rewrite is used for
// the operation. Its filter applies to {...item.value, namespace, key}.
#include "api/api.hpp"
#include "api/body.hpp"
#include "authz/filter.hpp"
#include "http/responses.hpp"
#include "util/clock.hpp"

namespace lgs {

namespace {

using Namespace = std::vector<std::string>;

// The checks of Item's rules, answered as a 422 naming `field`.
Namespace namespace_from(const json& value, const char* field, bool allow_empty) {
  if (value.is_null() && allow_empty) return {};
  if (!value.is_array()) throw ApiError{422, std::string("\"") + field + "\" must be a list of strings"};
  Namespace out;
  for (const auto& label : value) {
    if (!label.is_string()) throw ApiError{422, std::string("\"") + field + "\" must be a list of strings"};
    out.push_back(label.get<std::string>());
    if (!Item::valid_label(out.back()))
      throw ApiError{422, "Namespace labels cannot be empty or contain periods. Received: " + json(value).dump()};
  }
  if (out.empty() && !allow_empty) throw ApiError{422, "Namespace is required"};
  if (!Item::valid_namespace(out, allow_empty))
    throw ApiError{422, "\"" + std::string(field) + "\" is too long: its labels may hold " +
                            std::to_string(Item::kMaxNamespaceBytes) + " bytes together"};
  return out;
}

std::string key_from(const json& value) {
  if (!value.is_string() || value.get_ref<const std::string&>().empty()) throw ApiError{422, "\"key\" must be a non-empty string"};
  if (value.get_ref<const std::string&>().size() > Item::kMaxKeyBytes)
    throw ApiError{422, "\"key\" is too long: at most " + std::to_string(Item::kMaxKeyBytes) + " bytes"};
  if (!Item::valid_key(value.get_ref<const std::string&>()))
    throw ApiError{422, "\"key\" may not contain the NUL character"};
  return value.get<std::string>();
}

Namespace split_dotted(const std::string& text) {
  Namespace out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t dot = text.find('.', start);
    if (dot == std::string::npos) dot = text.size();
    out.push_back(text.substr(start, dot - start));
    start = dot + 1;
  }
  return out;
}

}  // namespace

void add_store_routes(Router& router, Services& services) {
  router.add("PUT", "/store/items", [&services](const ApiRequest& req, HttpResponse& res) {
    const json& b = req.body();
    namespace_from(b.value("namespace", json()), "namespace", false);
    key_from(b.value("key", json()));
    if (!b.contains("value") || !b["value"].is_object()) throw ApiError{422, "\"value\" must be an object"};
    json value = {{"namespace", b["namespace"]}, {"key", b["key"]}, {"value", b["value"]}, {"index", b.value("index", json())}};
    const json filter = services.authorize(req, "store", "put", value);
    Item item;
    item.namespace_path = namespace_from(value.value("namespace", json()), "namespace", false);
    item.key = key_from(value.value("key", json()));
    item.value = value.value("value", json::object());
    if (!item.value.is_object()) throw ApiError{500, "Internal server error while authorizing the request"};
    item.created_at = item.updated_at = now_iso8601();
    if (auto existing = services.storage.get_item(item.namespace_path, item.key)) {
      if (!filter_matches(filter, existing->filter_view())) throw ApiError{404, "Item not found"};
    } else if (!filter_matches(filter, item.filter_view())) {
      throw ApiError{403, "Not authorized"};
    }
    services.storage.put_item(item);
    res.status = 204;
  });

  router.add("GET", "/store/items", [&services](const ApiRequest& req, HttpResponse& res) {
    const auto key = req.query("key");
    if (!key || key->empty()) throw ApiError{422, "\"key\" is required"};
    const auto dotted = req.query("namespace").value_or("");
    json value = {{"namespace", dotted.empty() ? json::array() : json(split_dotted(dotted))}, {"key", *key}};
    namespace_from(value["namespace"], "namespace", true);
    const json filter = services.authorize(req, "store", "get", value);
    const Namespace ns = namespace_from(value.value("namespace", json::array()), "namespace", true);
    auto item = services.storage.get_item(ns, key_from(value.value("key", json())));
    if (!item) return send_json(res, 200, nullptr);
    if (!filter_matches(filter, item->filter_view())) throw ApiError{404, "Item not found"};
    send_json(res, 200, item->to_json());
  });

  router.add("DELETE", "/store/items", [&services](const ApiRequest& req, HttpResponse& res) {
    const json& b = req.body();
    namespace_from(b.value("namespace", json()), "namespace", false);
    key_from(b.value("key", json()));
    json value = {{"namespace", b["namespace"]}, {"key", b["key"]}};
    const json filter = services.authorize(req, "store", "delete", value);
    const Namespace ns = namespace_from(value.value("namespace", json()), "namespace", false);
    const std::string key = key_from(value.value("key", json()));
    if (auto existing = services.storage.get_item(ns, key)) {
      if (!filter_matches(filter, existing->filter_view())) throw ApiError{404, "Item not found"};
      services.storage.delete_item(ns, key);
    }
    res.status = 204;
  });

  router.add("POST", "/store/items/search", [&services](const ApiRequest& req, HttpResponse& res) {
    const json& b = req.body();
    namespace_from(b.value("namespace_prefix", json()), "namespace_prefix", true);
    json value = {{"namespace", b.value("namespace_prefix", json::array())},
                  {"filter", body::object(b, "filter")},
                  {"limit", body::integer(b, "limit", 10, 0, 1000)},
                  {"offset", body::integer(b, "offset", 0, 0, INT32_MAX)},
                  {"query", body::string(b, "query") ? b["query"] : json()}};
    ItemQuery q;
    q.auth_filter = services.authorize(req, "store", "search", value);
    q.namespace_prefix = namespace_from(value.value("namespace", json()), "namespace", true);
    q.value_filter = value["filter"].is_object() ? value["filter"] : json::object();
    q.limit = value.value("limit", 10);
    q.offset = value.value("offset", 0);
    json items = json::array();
    for (const auto& item : services.storage.search_items(q)) {
      json j = item.to_json();
      j["score"] = nullptr;
      items.push_back(std::move(j));
    }
    send_json(res, 200, {{"items", items}});
  });

  router.add("POST", "/store/namespaces", [&services](const ApiRequest& req, HttpResponse& res) {
    const json& b = req.body();
    namespace_from(b.value("prefix", json()), "prefix", true);
    namespace_from(b.value("suffix", json()), "suffix", true);
    json value = {{"namespace", b.value("prefix", json())},
                  {"suffix", b.value("suffix", json())},
                  {"max_depth", b.value("max_depth", json())},
                  {"limit", body::integer(b, "limit", 100, 0, 1000)},
                  {"offset", body::integer(b, "offset", 0, 0, INT32_MAX)}};
    if (!value["max_depth"].is_null()) body::integer(b, "max_depth", 0, 1, 1000);
    NamespaceQuery q;
    q.auth_filter = services.authorize(req, "store", "list_namespaces", value);
    q.prefix = namespace_from(value.value("namespace", json()), "prefix", true);
    q.suffix = namespace_from(value.value("suffix", json()), "suffix", true);
    if (value["max_depth"].is_number_integer()) q.max_depth = value["max_depth"].get<int>();
    q.limit = value.value("limit", 100);
    q.offset = value.value("offset", 0);
    send_json(res, 200, {{"namespaces", services.storage.list_namespaces(q)}});
  });
}

}  // namespace lgs
