/* cmd_keys.c - `mc2 init` and `mc2 whoami`: a party's identity. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "cli.h"
#include "mc2/identity.h"

static const char INIT_HELP[] =
    "usage: mc2 init --name NAME [--home DIR]\n\n"
    "Creates this party's identity in DIR (default $MC2_HOME, else ~/.mc2):\n"
    "  identity.key  Ed25519 private key (PEM, mode 0600)\n"
    "  identity.crt  X.509 certificate with CN=NAME\n"
    "  data.key      256-bit data key that encrypts your tables (mode 0600)\n"
    "  config.yaml   name and the service address\n"
    "Refuses to touch a directory that already holds keys.\n";

int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {{"name", required_argument, 0, 'n'},
                                         {"home", required_argument, 0, 'H'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *name = NULL, *home_flag = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            name = optarg;
            break;
        case 'H':
            home_flag = optarg;
            break;
        case 'h':
            fputs(INIT_HELP, stdout);
            return CLI_OK;
        case ':':
            return cli_usage("init", "%s needs a value", argv[optind - 1]);
        default:
            return cli_usage("init", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage("init", "unexpected argument '%s'", argv[optind]);
    if (!name) return cli_usage("init", "--name NAME is required");

    mc2_err err;
    mc2_err_clear(&err);
    char *home = mc2_home_resolve(home_flag, &err);
    if (!home) return cli_fail(&err);
    int rc = CLI_OK;
    mc2_identity id;
    if (mc2_identity_create(home, name, &err) || mc2_identity_load(home, &id, &err)) {
        rc = cli_fail(&err);
    } else {
        char fp[MC2_FINGERPRINT_TEXT];
        mc2_identity_fingerprint(id.pub, fp);
        printf("created identity '%s' in %s\n  fingerprint %s\n", id.name, home, fp);
        printf("  keep %s/identity.key and %s/data.key private and backed up\n", home, home);
        mc2_identity_free(&id);
    }
    mc2_free(home);
    return rc;
}

static const char WHOAMI_HELP[] = "usage: mc2 whoami [--home DIR]\n\n"
                                  "Prints this party's name and identity fingerprint (SHA-256\n"
                                  "of the Ed25519 public key), as others see it in policies.\n";

int cmd_whoami(int argc, char **argv)
{
    static const struct option opts[] = {
        {"home", required_argument, 0, 'H'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *home_flag = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            home_flag = optarg;
            break;
        case 'h':
            fputs(WHOAMI_HELP, stdout);
            return CLI_OK;
        case ':':
            return cli_usage("whoami", "%s needs a value", argv[optind - 1]);
        default:
            return cli_usage("whoami", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage("whoami", "unexpected argument '%s'", argv[optind]);
    mc2_err err;
    mc2_err_clear(&err);
    char *home = mc2_home_resolve(home_flag, &err);
    if (!home) return cli_fail(&err);
    mc2_identity id;
    int rc = CLI_OK;
    if (mc2_identity_load(home, &id, &err)) {
        rc = cli_fail(&err);
    } else {
        char fp[MC2_FINGERPRINT_TEXT];
        mc2_identity_fingerprint(id.pub, fp);
        printf("%s\n%s\n", id.name, fp);
        mc2_identity_free(&id);
    }
    mc2_free(home);
    return rc;
}
