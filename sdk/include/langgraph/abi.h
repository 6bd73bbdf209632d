/*
 * The plugin ABI: the only thing that crosses between langgraph-server and a plugin.
 *
 * Pure C, no dependencies beyond the C standard library. Plugins normally never touch it:
 * <langgraph/auth.hpp> and <langgraph/graph.hpp> wrap it. It exists so that a plugin built
 * with another compiler, another standard library or another JSON library still works, and
 * so that nothing but plain data crosses the boundary (no C++ object, no exception).
 *
 * Rules:
 *  - The symbol named in langgraph.json ("lib.so:symbol") is an extern "C" function taking no
 *    argument and returning a pointer to a static descriptor (lg_auth_plugin / lg_graph_plugin).
 *  - Every descriptor starts with abi_version and struct_size. The server refuses a plugin whose
 *    abi_version differs from LG_ABI_VERSION or whose struct_size is smaller than it needs.
 *  - Strings are lg_str slices, not NUL-terminated. OWNERSHIP: the caller's; valid only during
 *    the call. The receiver copies what it keeps.
 *  - Results go back through an lg_sink the host passes in; the host copies everything.
 *  - Functions never throw (the C++ SDK catches everything) and must be thread-safe: the server
 *    calls them from many threads at once on the same instance.
 */
#ifndef LANGGRAPH_ABI_H
#define LANGGRAPH_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bump on any incompatible change to this file; tests/unit/abi_version_test.cpp guards it. */
#define LG_ABI_VERSION 1u

typedef struct lg_str {
  const char* ptr;
  size_t len;
} lg_str;

typedef struct lg_pair {
  lg_str name;
  lg_str value;
} lg_pair;

/* Return codes of every plugin function. */
enum {
  LG_OK = 0,     /* success; results were written to the sink */
  LG_DENIED = 1, /* the plugin raised an HTTP error (set_http_error was called) */
  LG_FAILED = 2, /* anything else went wrong (set_failure was called); the server fails closed */
  LG_INTERRUPTED = 3 /* run_node only: the node called interrupt(); "interrupt" holds its value */
};

/* Where a plugin writes its results. OWNERSHIP: host; valid only during the call. */
typedef struct lg_sink {
  uint32_t struct_size;
  void* host;
  /* A JSON document under a key. Keys per call: authenticate → "user"; describe → "graph";
     run_node → "update"; route → "next". */
  void (*set_json)(void* host, lg_str key, lg_str json);
  /* An HTTP error to answer with; an empty detail means the status's reason phrase. */
  void (*set_http_error)(void* host, int32_t status, lg_str detail);
  /* A response header to send with the HTTP error (e.g. WWW-Authenticate). */
  void (*add_header)(void* host, lg_str name, lg_str value);
  /* Why the call failed; goes to the server log only, never to the client. */
  void (*set_failure)(void* host, lg_str message);
  /* run_node only (NULL elsewhere): sends a "custom" stream event while the node runs. */
  void (*emit_custom)(void* host, lg_str json);
  /* run_node only (NULL elsewhere): the server's store. `op` is "get", "put", "delete" or
     "search"; `request_json` holds namespace, key, value, or namespace_prefix, filter, limit,
     offset. The answer is written to `reply` under "result". Returns LG_OK or LG_FAILED. */
  int32_t (*store)(void* host, lg_str op, lg_str request_json, struct lg_sink* reply);
} lg_sink;

/* ------------------------------------------------------------------------------------------ */
/* Auth plugins                                                                                */

/* What authenticate sees of a request. OWNERSHIP: host; valid only during the call. */
typedef struct lg_auth_request {
  uint32_t struct_size;
  lg_str method;         /* "GET", "POST", ... */
  lg_str path;           /* "/threads/123/runs", no query string */
  lg_str client_address; /* peer address from the socket, never from a header */
  const lg_pair* headers; /* names lower-case; repeated headers appear repeatedly */
  size_t header_count;
  const lg_pair* query_params; /* decoded */
  size_t query_param_count;
  const lg_pair* path_params; /* e.g. thread_id, run_id */
  size_t path_param_count;
} lg_auth_request;

/* One authorization question: may `user` do `action` on `resource` with `value`? */
typedef struct lg_authz_request {
  uint32_t struct_size;
  lg_str resource;   /* "threads", "assistants", "crons", "store" */
  lg_str action;     /* "create", "read", "update", "delete", "search", "create_run", ... */
  lg_str user_json;  /* the authenticated user object, permissions included; the same text for
                        the same user, call after call */
  lg_str value_json; /* the operation's payload; the plugin may return a mutated copy as "value".
                        Empty for an event listed in "context_events" (see create). */
} lg_authz_request;

typedef struct lg_auth_plugin {
  uint32_t abi_version; /* LG_ABI_VERSION */
  uint32_t struct_size; /* sizeof(lg_auth_plugin) */
  const char* name;     /* for logs */
  /* config_json: the keys of langgraph.json's "auth" object this server does not read itself.
     Returns an instance, or NULL after calling err->set_failure. With an instance it may also
     write to `err`: "handlers", a JSON list of the events it has authorization handlers for
     ("threads:read", "threads:*", "*:read", "*:*"; without it every operation is asked about),
     and "context_events", a JSON list of "resource:action" events whose handler decides from
     the context alone (user_json, resource, action): their value_json is empty, a "value"
     written for them is ignored, and the server may reuse the answer it got for the same event
     and the same user_json instead of asking again. */
  void* (*create)(lg_str config_json, lg_sink* err);
  void (*destroy)(void* instance);
  /* Writes "user" (a JSON string identity or an object with "identity") and returns LG_OK,
     or raises an HTTP error (LG_DENIED), or fails (LG_FAILED). NULL: no authenticate handler,
     which the server refuses at startup. */
  int32_t (*authenticate)(void* instance, const lg_auth_request* request, lg_sink* result);
  /* Writes "filter" and/or "value" and returns LG_OK to allow, or LG_DENIED / LG_FAILED.
     Without "value" the operation keeps its own: write it only when the handler changed it.
     NULL: the plugin has no authorization handlers; everything authenticated is allowed. */
  int32_t (*authorize)(void* instance, const lg_authz_request* request, lg_sink* result);
} lg_auth_plugin;

typedef const lg_auth_plugin* (*lg_auth_entry)(void);

/* ------------------------------------------------------------------------------------------ */
/* Graph plugins: the plugin declares a graph and supplies node and router functions; the
   server's runtime drives the supersteps, applies reducers and keeps the state.              */

typedef struct lg_node_call {
  uint32_t struct_size;
  lg_str node;        /* node name */
  lg_str state_json;  /* the full current state */
  lg_str config_json; /* the run's config: {"configurable": {...}, ...} */
  lg_str resume_json; /* a JSON list: values resuming the node's interrupt() calls, in order; may be empty */
} lg_node_call;

typedef struct lg_route_call {
  uint32_t struct_size;
  lg_str branch;      /* the branch id the plugin gave in "graph" */
  lg_str state_json;
  lg_str config_json;
} lg_route_call;

typedef struct lg_graph_plugin {
  uint32_t abi_version;
  uint32_t struct_size;
  const char* name;
  void* (*create)(lg_str config_json, lg_sink* err);
  void (*destroy)(void* instance);
  /* Writes "graph": {"channels": {name: reducer}, "nodes": [names],
     "edges": [[from, to]], "branches": [{"id", "source", "destinations"}]}. */
  int32_t (*describe)(void* instance, lg_sink* out);
  /* Runs one node; writes "update": an object of channel -> value (may be empty); or, when the
     node called interrupt() with no resume value left, writes "interrupt" and returns
     LG_INTERRUPTED. The graph's "interrupt_before"/"interrupt_after" lists, when present in
     "graph", pause runs before/after those nodes. */
  int32_t (*run_node)(void* instance, const lg_node_call* call, lg_sink* out);
  /* Evaluates a conditional edge; writes "next": a node name or a list of them. */
  int32_t (*route)(void* instance, const lg_route_call* call, lg_sink* out);
} lg_graph_plugin;

typedef const lg_graph_plugin* (*lg_graph_entry)(void);

#ifdef __cplusplus
}
#endif

#endif /* LANGGRAPH_ABI_H */
