#include "testutil.h"

#include <stdio.h>

#include "lib/json.h"
#include "lib/log.h"

static char *capture(enum log_level min, enum log_level level, const char *msg, json_t *fields)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    struct logger lg;
    log_init(&lg, f, min);
    log_write(&lg, level, msg, fields);
    fclose(f);
    return text;
}

static void test_line_is_json_with_severity_message_timestamp_first(void **state)
{
    char *line = capture(LOG_DEBUG, LOG_WARNING, "disk \"full\"", json_pack("{s:i}", "n", 3));
    assert_non_null(strchr(line, '\n'));
    json_t *v = json_parse(line, strlen(line), NULL, 0);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "severity")), "WARNING");
    assert_string_equal(json_string_value(json_object_get(v, "message")), "disk \"full\"");
    assert_int_equal(json_integer_value(json_object_get(v, "n")), 3);
    assert_true(strncmp(line, "{\"severity\":\"WARNING\",\"message\":", 32) == 0);
    const char *ts = json_string_value(json_object_get(v, "timestamp"));
    assert_int_equal(strlen(ts), 24);
    assert_int_equal(ts[23], 'Z');
    json_decref(v);
    free(line);
}

static void test_lines_below_minimum_are_dropped(void **state)
{
    char *line = capture(LOG_INFO, LOG_DEBUG, "noise", json_object());
    assert_true(line == NULL || line[0] == '\0');
    free(line);
}

static void test_secret_hash_hides_secret(void **state)
{
    char out[LOG_SECRET_HASH_SIZE];
    log_secret_hash("tok-very-secret", 15, out);
    assert_true(strncmp(out, "sha256:", 7) == 0);
    assert_int_equal(strlen(out), 19);
    assert_null(strstr(out, "secret"));
}

static void test_level_names_parse(void **state)
{
    assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
    assert_int_equal(log_level_parse("WARNING"), LOG_WARNING);
    assert_int_equal(log_level_parse("warn"), LOG_WARNING);
    assert_int_equal(log_level_parse("loud"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_is_json_with_severity_message_timestamp_first),
        cmocka_unit_test(test_lines_below_minimum_are_dropped),
        cmocka_unit_test(test_secret_hash_hides_secret),
        cmocka_unit_test(test_level_names_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
