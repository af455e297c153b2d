/* log.h - diagnostics on stderr. Never pass key material or data values to these. */
#ifndef MC2_BASE_LOG_H
#define MC2_BASE_LOG_H

enum mc2_log_level { MC2_LOG_ERROR, MC2_LOG_WARN, MC2_LOG_INFO, MC2_LOG_DEBUG };

/* Writes "prog: [level] message\n" to stderr if level <= max. `prog` names the program
 * ("mc2", "mc2d", "mc2-enclave"). */
void mc2_log(const char *prog, enum mc2_log_level max, enum mc2_log_level level, const char *fmt,
             ...) __attribute__((format(printf, 4, 5)));

#endif
