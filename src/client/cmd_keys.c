/* cmd_keys.c - `mc2 init` and `mc2 whoami`: a party's identity. */
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
    const char *name = NULL, *home_flag = NULL;
    cli_opt opts[] = {CLI_VAL("name", &name), CLI_VAL("home", &home_flag), CLI_END};
    int code;
    if (cli_parse("init", INIT_HELP, argc, argv, opts, NULL, 0, &code)) return code;
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
    const char *home_flag = NULL;
    cli_opt opts[] = {CLI_VAL("home", &home_flag), CLI_END};
    int code;
    if (cli_parse("whoami", WHOAMI_HELP, argc, argv, opts, NULL, 0, &code)) return code;
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
