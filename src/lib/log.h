/*
 * log: structured logs, one JSON object per line (severity, message, timestamp, then fields),
 * the format the reference server uses. A logger is an object owned by the server
 * context and passed to the modules that log; there is no global logger. Secrets never reach a
 * log line: callers pass them through log_secret_hash, which yields a short SHA-256 prefix.
 */
#ifndef MCPD_LIB_LOG_H
#define MCPD_LIB_LOG_H

#include <jansson.h>
#include <stdio.h>

enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO,
    LOG_NOTICE,
    LOG_WARNING,
    LOG_ERROR,
    LOG_CRITICAL,
};

struct logger {
    FILE *out;          /* where lines go; stdout by default */
    enum log_level min; /* lines below this level are dropped */
};

void log_init(struct logger *lg, FILE *out, enum log_level min);
/* Parse "debug", "info", ... (case-insensitive). Returns -1 for an unknown name. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level); /* "DEBUG", "INFO", ... */

/* Write one line. fields (may be NULL) is an object whose members are added after timestamp;
 * the reference is stolen. lg may be NULL (nothing is written). */
void log_write(struct logger *lg, enum log_level level, const char *message, json_t *fields);
/* printf-style message, no fields. */
void log_msgf(struct logger *lg, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "sha256:" + the first 12 hex digits of SHA-256(secret): identifies a token in logs without
 * revealing it. out must hold at least LOG_SECRET_HASH_SIZE bytes. */
#define LOG_SECRET_HASH_SIZE 20
void log_secret_hash(const char *secret, size_t len, char *out);

#endif
