/* capture_pcap.h - offline analysis of pcap and pcapng files (mamori -r).
 *
 * One reader thread reads the files in order through libpcap, decodes each
 * packet once, and hands it to the worker that owns its flow, chosen by the
 * symmetric flow hash: both directions meet on one worker and the results
 * do not depend on the number of workers. Nothing is dropped: a full
 * worker ring makes the reader wait. A file that breaks partway (truncated,
 * a corrupt record header) is reported on stderr with its name and the
 * byte offset of the bad record, and counted in capture.file_errors; the
 * packets before it are analysed and the next file is read. */
#ifndef MAMORI_CAPTURE_PCAP_H
#define MAMORI_CAPTURE_PCAP_H

#include "capture.h"

/* Opens every file up front so a missing or unreadable one is reported
 * before any work starts. NULL with a message naming the file in err. */
struct capture *capture_pcap_open(const char *const *files, unsigned n_files,
                                  struct worker **workers, unsigned n_workers,
                                  char *err, size_t errlen);

#endif
