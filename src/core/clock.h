/* clock.h: wall-clock and monotonic time in the units sluice uses.
 *
 * Wall milliseconds match Kafka record timestamps (end-to-end latency is
 * measured against them); monotonic time drives timeouts and rates.
 */
#ifndef SL_CLOCK_H
#define SL_CLOCK_H

#include <stdint.h>

int64_t sl_clock_wall_ms(void);
double sl_clock_wall_ms_f(void); /* with sub-millisecond precision */
int64_t sl_clock_mono_ms(void);
uint64_t sl_clock_mono_ns(void);

#endif
