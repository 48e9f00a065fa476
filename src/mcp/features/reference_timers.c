/*
 * The reference pack's periodic notifications: resource updates every
 * 10 s, a random log message every 20 s, a stderr line every 30 s. They run where the session's
 * standalone stream is (the notifier), which applies the session's log level to the random log.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/crypto.h"
#include "mcp/features/reference_internal.h"

const struct ref_log_message REF_LOG_MESSAGES[REF_LOG_MESSAGE_COUNT] = {
    {"debug", "Debug-level message"},         {"info", "Info-level message"},
    {"notice", "Notice-level message"},       {"warning", "Warning-level message"},
    {"error", "Error-level message"},         {"critical", "Critical-level message"},
    {"alert", "Alert level-message"}, /* sic: the reference server's text */
    {"emergency", "Emergency-level message"},
};

const struct ref_log_message *ref_log_pick(uint8_t random_byte)
{
    return &REF_LOG_MESSAGES[random_byte % REF_LOG_MESSAGE_COUNT];
}

const char *ref_clock_text(time_t t, char *out, size_t out_size)
{
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(out, out_size, "%I:%M:%S", &tm) == 0) {
        snprintf(out, out_size, "00:00:00 AM");
        return out;
    }
    /* %p follows LC_TIME; the reference server's en-US text is always AM/PM after an ASCII space.
     */
    size_t len = strlen(out);
    snprintf(out + len, out_size - len, " %s", tm.tm_hour < 12 ? "AM" : "PM");
    return out;
}

static void send_updates(struct mcp_notifier *n, const char *const *uris, size_t count, void *arg)
{
    for (size_t i = 0; i < count; i++)
        mcp_notifier_send(n, "notifications/resources/updated", json_pack("{s:s}", "uri", uris[i]));
}

static void fire_resource_updates(struct mcp_notifier *n)
{
    mcp_notifier_subscriptions(n, send_updates, NULL);
}

static void fire_random_log(struct mcp_notifier *n)
{
    uint8_t byte;
    if (crypto_random(&byte, 1) != 0)
        return;
    const struct ref_log_message *m = ref_log_pick(byte);
    /* No logger: the reference server's params are exactly {"level","data"}. */
    mcp_notifier_log(n, m->level, NULL, json_string(m->data));
}

static void fire_stderr(struct mcp_notifier *n)
{
    char clock[32];
    ref_clock_text(time(NULL), clock, sizeof clock);
    mcp_notifier_send(n, "notifications/stderr",
                      json_pack("{s:o}", "content", json_sprintf("%s: A stderr message", clock)));
}

const struct mcp_pack_timer REF_TIMERS[] = {
    {"resource-updates", 10000, fire_resource_updates},
    {"random-log", 20000, fire_random_log},
    {"stderr", 30000, fire_stderr},
};
