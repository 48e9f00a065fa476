/* mcpd entry point: placeholder until the roles are wired (see README). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("mcpd %s\n", MCPD_VERSION);
        return 0;
    }
    fprintf(stderr, "mcpd: not wired yet\n");
    return 2;
}
