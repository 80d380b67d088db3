/*
 * dispatch: one request, from its route to its handler.
 *
 * gl_dispatch() matches the route, then checks, in this order and before the handler sees
 * anything: the caller's role, the query against the route's table, Content-Type,
 * Content-Length against the route's cap, the JSON parse and the body's field table. Every
 * failure is a gl_fail() that the one writer, gl_req_finish(), turns into the API's error
 * body. Besides its own routes every service answers /api/<svc>/healthz, /api/<svc>/readyz
 * and /metrics (metrics.h: every service's totals): gl_dispatch_routes() puts them first.
 */
#ifndef GL_DISPATCH_H
#define GL_DISPATCH_H

#include "err.h"
#include "route.h"

struct gl_req;
struct gl_service;

/* The built-in routes, then the service's (new: free() it); NULL when out of memory. The
 * built-in patterns live in static storage: one service per process. */
struct gl_route *gl_dispatch_routes(const struct gl_service *svc);

/* Dispatch one request to its handler, or fail it (exposed for tests and fuzzing). */
enum gl_err gl_dispatch(const struct gl_route *routes, struct gl_req *req);

/* Read and drop what is left of the body, so the FastCGI stream stays in step. */
void gl_dispatch_drain(struct gl_req *req);

#endif
