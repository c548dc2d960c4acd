/*
 * odtc_platform.h -- target services for odtc programs: instruction counter and fault codes.
 *
 * On a Cortex-M target run by QEMU (mps2-an386, mps2-an500, mps3-an547) with
 * `-icount shift=6`, the counter uses SysTick clocked from the core clock. Under icount
 * every guest instruction advances virtual time by exactly 2^shift ns, and SysTick ticks
 * at the board clock (25 MHz on mps2, 32 MHz on mps3-an547), so
 *
 *     instructions = ticks * tick_ns / 2^shift = ticks * 10^9 / (ODTC_SYSTICK_HZ << ODTC_ICOUNT_SHIFT)
 *
 * (mps2: ticks * 40/64 = ticks * 5/8; mps3-an547: ticks * 31.25/64 = ticks * 125/256).
 * These are executed instruction counts, not cycles (QEMU models no pipeline, caches or
 * wait states). They repeat exactly run to run. The last digit is quantised by the tick
 * (one tick = 0.625 instruction on mps2, 0.49 on mps3), and each counter read costs a few
 * tens of instructions itself, which cancels out in differences of two reads.
 *
 * The 24-bit SysTick wraps every 2^24 ticks (about 10.5 M instructions on mps2, 8.2 M on
 * mps3). The SysTick interrupt handler in odtc_platform.c counts the wraps, so regions of
 * any length are measured correctly as long as interrupts stay enabled (PRIMASK clear) for
 * most of the time: a region that keeps interrupts masked for more than one wrap period
 * loses 2^24 ticks per extra wrap.
 *
 * On any other build (host) the counter functions are no-ops that return 0 and
 * odtc_counter_available() returns 0, so the same source builds everywhere.
 */
#ifndef ODTC_PLATFORM_H
#define ODTC_PLATFORM_H

#include <stdint.h>

#if defined(__arm__) && defined(__ARM_ARCH_PROFILE) && (__ARM_ARCH_PROFILE == 'M')
#define ODTC_TARGET_MCU 1
#else
#define ODTC_TARGET_MCU 0
#endif

/* SysTick clock of the QEMU board (overridable with -D). The core -> board mapping is fixed:
   Cortex-M55 -> mps3-an547 (32 MHz), Cortex-M4/M7 -> mps2-an386/an500 (25 MHz). */
#ifndef ODTC_SYSTICK_HZ
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
#define ODTC_SYSTICK_HZ 32000000u
#else
#define ODTC_SYSTICK_HZ 25000000u
#endif
#endif

/* Must match QEMU's `-icount shift=N`. */
#ifndef ODTC_ICOUNT_SHIFT
#define ODTC_ICOUNT_SHIFT 6
#endif

/* Exit status of a program stopped by an exception (startup.c): ODTC_EXIT_FAULT_BASE plus
   the exception number, chosen away from the small codes programs return themselves and
   from the 124..137 range used by `timeout` and by signals. */
#define ODTC_EXIT_FAULT_BASE 224
#define ODTC_EXIT_NMI (ODTC_EXIT_FAULT_BASE + 2)         /* 226 */
#define ODTC_EXIT_HARDFAULT (ODTC_EXIT_FAULT_BASE + 3)   /* 227 */
#define ODTC_EXIT_MEMMANAGE (ODTC_EXIT_FAULT_BASE + 4)   /* 228 */
#define ODTC_EXIT_BUSFAULT (ODTC_EXIT_FAULT_BASE + 5)    /* 229 */
#define ODTC_EXIT_USAGEFAULT (ODTC_EXIT_FAULT_BASE + 6)  /* 230 */
#define ODTC_EXIT_SECUREFAULT (ODTC_EXIT_FAULT_BASE + 7) /* 231 */
#define ODTC_EXIT_UNEXPECTED (ODTC_EXIT_FAULT_BASE + 16) /* 240: SVC, PendSV, IRQ, ... */

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the instruction counter works (Cortex-M build), 0 on host. */
int odtc_counter_available(void);

/* (Re)start the counter at zero: SysTick RVR=0xFFFFFF, CVR=0, CSR=7 (core clock, interrupt,
   enable). Call once before the first read (again to restart). */
void odtc_counter_start(void);

/* Raw SysTick ticks since odtc_counter_start(), wraps included. */
uint64_t odtc_counter_read_ticks(void);

/* Instructions executed since odtc_counter_start() (ticks converted as above). */
uint64_t odtc_counter_read_instructions(void);

/* Convert a tick count (e.g. a difference of two reads) to instructions. */
uint64_t odtc_ticks_to_instructions(uint64_t ticks);

/* Print the machine-readable line "@odtc instructions <label> <n>\n" on stdout, which
   odtc.runtime.emulator.run_elf collects (RunResult.counters / .instructions) and removes
   from RunResult.stdout. No-op on host. */
void odtc_counter_report(const char *label, uint64_t instructions);

#ifdef __cplusplus
}
#endif

#endif /* ODTC_PLATFORM_H */
