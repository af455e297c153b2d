/* main.c - the mc2 command-line client: dispatches to one function per command. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        printf("usage: mc2 COMMAND [ARGS]\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "mc2: unknown command '%s'\n", argv[1]);
    return 2;
}
