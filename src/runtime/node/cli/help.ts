/** Help lines of the command groups with files of their own (kept apart so `veil help` loads none of them). */
export const AUDIT_HELP = `  audit verify [--tenant <id>] [--json]     check the audit hash chains; exit 1 names the first bad event
  audit export --tenant <id> [--since <ISO>] [--until <ISO>] [--out <file>]
                                            write the tenant's audit events as JSONL
  audit tail [--tenant <id>] [--limit <n>]  follow new audit events (JSONL) until Ctrl-C
  audit prune [--tenant <id>] [--before <ISO>]
                                            delete events older than VEIL_AUDIT_RETENTION_DAYS days
                                            (or --before), leaving a signed checkpoint at the cut`;

export const ERASE_HELP = `  erase --tenant <id> (--type <TYPE> --value <value> | --token <[TYPE_…]>)
                                            erase one subject's mapping (GDPR Art. 17), audited
  tenants shred <id> --yes                  crypto-shred a tenant: destroy its key, then its rows`;

export const BACKUP_HELP = `  backup --out <file>                       write an encrypted, authenticated backup of the whole store
  backup --verify <file>                    check a backup (every chunk, order, completeness) without restoring
  restore --in <file>                       verify and load a backup into an EMPTY store (PGlite or PostgreSQL)`;

export const JOBS_HELP = `  keys rotate --tenant <id> [--rows-per-second <n>] [--wait]
                                            new data key (DEK) for the tenant now; a background
                                            job re-encrypts older rows, then retires the old key
  keys rotate --tenant <id> --kek [--wait]  new key-encryption key (KEK) for the tenant now; a job
                                            re-wraps its data keys; the blind-index key is kept
  keys rotate --master [--rows-per-second <n>] [--wait]
                                            re-wrap every tenant key, the audit root key and the key
                                            check value under the current master key (set the old
                                            one as VEIL_MASTER_KEY_PREVIOUS / VEIL_KMS_KEY_ID_PREVIOUS)
  jobs status [<job-id>] [--tenant <id>]    rotation jobs and their progress
  jobs run [<job-id>]                       work the running jobs in this process until done
  jobs pause|resume|cancel <job-id>         control a job`;
