/*
 * streams: resumable SSE streams of a session (transports spec, "Resumability"). Every event of
 * a stream gets the id "{stream}:{seq}" and is appended to the stream's bounded event log in the
 * store, so a client whose connection broke can GET with Last-Event-ID and have the rest
 * replayed, on any instance. While a stream's connection is attached here events are written to
 * it directly; a POST stream's events are also published on the stream's channel, where a resumed
 * connection (on any instance) picks them up, even one that took over before this instance saw
 * the old connection break. Log entries and channel messages carry a marker for the stream's
 * final event, after which a resumed POST stream ends.
 */
#ifndef MCPD_MCP_STREAMS_H
#define MCPD_MCP_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http_server.h"
#include "mcp/context.h"

#define MCP_STREAM_ID_MAX 24
#define MCP_EVENT_ID_MAX  (MCP_STREAM_ID_MAX + 24)

struct mcp_stream;

/* A new stream of the given kind ('p' for a POST response stream, 'g' for the standalone GET
 * stream) with a fresh random id; seq continues after first_seq. */
struct mcp_stream *mcp_stream_new(struct mcp_ctx *ctx, const char *sid, char kind,
                                  const char *stream_id, uint64_t first_seq);
void mcp_stream_free(struct mcp_stream *s);
const char *mcp_stream_id(const struct mcp_stream *s);
/* Write events to ex (an exchange on which SSE has begun) from now on; NULL detaches. */
void mcp_stream_attach(struct mcp_stream *s, struct http_exchange *ex);
/* The priming event: id with the current seq, the retry hint, empty data. */
int mcp_stream_prime(struct mcp_stream *s, uint64_t retry_ms);
/* Append one message (JSON text) as the next event. */
int mcp_stream_emit(struct mcp_stream *s, const char *json, size_t len, bool final);

/* Split "stream:seq". Returns 0, or -1 if the id is not one of ours. */
int mcp_event_id_parse(const char *event_id, char *stream_id, size_t size, uint64_t *seq);

/* Resume a stream on ex (nothing sent yet): once the log is read, begin the event stream (200),
 * replay the logged events after seq, then follow live ones, each event exactly once and in order
 * (a POST stream's log is read only once its channel subscription is in effect). A seq past 0 of
 * a stream with no log in this session is refused at once (400); a log that cannot be read is a
 * 503. A POST stream ends after its final event (finishing ex), or after the replay when the
 * subscription could not be confirmed (the client resumes again); a GET stream continues via
 * on_follow, which receives the resumed stream's id and next_id (the id the caller chose for
 * what follows) and takes over ex. */
typedef void (*mcp_resume_follow_fn)(struct mcp_ctx *ctx, struct http_exchange *ex, const char *sid,
                                     const char *stream_id, const char *next_id);
int mcp_stream_resume(struct mcp_ctx *ctx, struct http_exchange *ex, const char *sid,
                      const char *stream_id, uint64_t after_seq, const char *next_id,
                      mcp_resume_follow_fn follow);

#endif
