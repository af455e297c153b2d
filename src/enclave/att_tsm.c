/* att_tsm.c - TRUSTED: the tsm attester. The enclave runs in an AMD SEV-SNP confidential VM;
 * its evidence is the VM's attestation report over the session's report data, which the
 * host gets from Linux configfs-tsm (src/host/tee_tsm.c: the sandbox forbids the enclave
 * configfs), so `evidence` is NULL and the session asks with EIF_EVIDENCE_REQ. The host
 * cannot forge the report: the AMD secure processor signs it with the chip's VCEK, and the
 * client checks that signature, the chain to a pinned AMD root and the binding.
 * Sealing: not offered (configfs-tsm has no derived-key interface; SNP's MSG_KEY_REQ through
 * /dev/sev-guest is not built). */
#include "enclave/attester.h"
#include "enclave/enclave.h"

static int tsm_init(enclave *e, const uint8_t *p, size_t n, mc2_err *err)
{
    (void)e;
    (void)p;
    if (n != 0)
        return mc2_err_set(err, MC2_E_INPUT, "the tsm attester takes no INIT bytes (%zu given)", n);
    return 0;
}

static void tsm_fini(enclave *e)
{
    (void)e;
}

const enc_attester enc_att_tsm = {
    .name = "tsm",
    .simulation = false,
    .init = tsm_init,
    .evidence = NULL, /* the host fetches it (EIF_EVIDENCE_REQ) */
    .fini = tsm_fini,
};
