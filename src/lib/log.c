#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/crypto.h"
#include "lib/json.h"

static const char *const level_names[] = {"DEBUG",   "INFO",  "NOTICE",
                                          "WARNING", "ERROR", "CRITICAL"};

void log_init(struct logger *lg, FILE *out, enum log_level min)
{
    lg->out = out ? out : stdout;
    lg->min = min;
}

int log_level_parse(const char *name)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return (int)i;
    if (strcasecmp(name, "warn") == 0)
        return LOG_WARNING;
    return -1;
}

const char *log_level_name(enum log_level level)
{
    return level >= LOG_DEBUG && level <= LOG_CRITICAL ? level_names[level] : "INFO";
}

static void format_timestamp(char *out, size_t size)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, size - n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

void log_write(struct logger *lg, enum log_level level, const char *message, json_t *fields)
{
    if (!lg || level < lg->min) {
        json_decref(fields);
        return;
    }
    char ts[40];
    format_timestamp(ts, sizeof ts);
    json_t *line = json_object();
    json_object_set_new(line, "severity", json_string(log_level_name(level)));
    json_object_set_new(line, "message", json_string(message ? message : ""));
    json_object_set_new(line, "timestamp", json_string(ts));
    if (json_is_object(fields))
        json_object_update(line, fields);
    json_decref(fields);
    struct buf b;
    buf_init(&b, 0);
    if (json_serialize_buf(line, &b) == BUF_OK && buf_append_char(&b, '\n') == BUF_OK) {
        /* One fwrite per line so that concurrent writers (workers) never interleave a line. */
        fwrite(b.data, 1, b.len, lg->out);
        fflush(lg->out);
    }
    buf_free(&b);
    json_decref(line);
}

void log_msgf(struct logger *lg, enum log_level level, const char *fmt, ...)
{
    if (!lg || level < lg->min)
        return;
    struct buf b;
    buf_init(&b, 8192);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    log_write(lg, level, b.data ? b.data : "", NULL);
    buf_free(&b);
}

void log_secret_hash(const char *secret, size_t len, char *out)
{
    char hex[65];
    crypto_sha256_hex(secret, len, hex);
    snprintf(out, LOG_SECRET_HASH_SIZE, "sha256:%.12s", hex);
}
