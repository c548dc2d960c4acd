/*
 * odtc_platform.c -- SysTick-based instruction counter (see odtc_platform.h).
 */
#include "odtc_platform.h"

#include <stdio.h>

#if ODTC_TARGET_MCU

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define SCB_SHPR3 (*(volatile uint32_t *)0xE000ED20u)

#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2) /* core clock */
#define ICSR_PENDSTSET (1u << 26)
#define ICSR_PENDSTCLR (1u << 25)

#define SYST_RELOAD 0xFFFFFFu
#define TICKS_PER_WRAP (1ull << 24) /* RVR + 1 */

/* Number of completed SysTick periods since odtc_counter_start(). */
static volatile uint32_t odtc_systick_wraps;
/* Raw tick reading taken at start, subtracted from every later reading. */
static uint64_t odtc_tick_base;

void SysTick_Handler(void);

/* Replaces the weak default in startup.c's vector table. */
void SysTick_Handler(void)
{
    odtc_systick_wraps = odtc_systick_wraps + 1u;
}

static inline uint32_t odtc_irq_save(void)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
    return primask;
}

static inline void odtc_irq_restore(uint32_t primask)
{
    __asm__ volatile("msr primask, %0" : : "r"(primask) : "memory");
}

/* wraps * 2^24 + elapsed ticks in the current period, consistent even when the counter
   has just reloaded but the SysTick interrupt has not been taken yet. */
static uint64_t odtc_raw_ticks(void)
{
    uint32_t primask = odtc_irq_save();
    uint32_t wraps = odtc_systick_wraps;
    uint32_t cvr = SYST_CVR;
    if (SCB_ICSR & ICSR_PENDSTSET) {
        /* A reload happened (before or right after the CVR read) that the handler has not
           counted yet: re-read so the value belongs to the new period, and count it. */
        cvr = SYST_CVR;
        wraps += 1u;
    }
    odtc_irq_restore(primask);
    return (uint64_t)wraps * TICKS_PER_WRAP + (uint64_t)(SYST_RELOAD - (cvr & SYST_RELOAD));
}

int odtc_counter_available(void)
{
    return 1;
}

void odtc_counter_start(void)
{
    uint32_t primask = odtc_irq_save();
    SYST_CSR = 0u;
    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0u;                     /* any write clears the counter */
    SCB_ICSR = ICSR_PENDSTCLR;         /* drop a stale pending SysTick */
    SCB_SHPR3 &= ~(0xFFu << 24);       /* SysTick at the highest configurable priority */
    odtc_systick_wraps = 0u;
    SYST_CSR = SYST_CSR_CLKSOURCE | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
    /* The counter loads RVR on the first tick after enabling; until then CVR reads 0.
       Wait for the reload (a few instructions at most) so the base is taken in period 0. */
    for (uint32_t guard = 0; SYST_CVR == 0u && guard < 1000u; ++guard) {
    }
    odtc_tick_base = 0u;
    odtc_irq_restore(primask);
    odtc_tick_base = odtc_raw_ticks();
}

uint64_t odtc_counter_read_ticks(void)
{
    return odtc_raw_ticks() - odtc_tick_base;
}

/* instructions per tick, tick_ns / 2^shift = 1e9 / (hz << shift), as a 0.32 fixed-point
   fraction: 5/8 (25 MHz) and 125/256 (32 MHz) are exact. Folded at compile time, so the
   conversion is two 32x32->64 multiplies, no 64-bit division (a __aeabi_uldivmod call would
   add ~100 instructions to every read). */
#define ODTC_INSTR_PER_TICK_Q32 \
    ((uint32_t)((1000000000ull << 32) / ((uint64_t)ODTC_SYSTICK_HZ << ODTC_ICOUNT_SHIFT)))

_Static_assert((1000000000ull << 32) / ((uint64_t)ODTC_SYSTICK_HZ << ODTC_ICOUNT_SHIFT) < (1ull << 32),
               "odtc: a SysTick tick must be shorter than an instruction (raise ODTC_ICOUNT_SHIFT)");

uint64_t odtc_ticks_to_instructions(uint64_t ticks)
{
    /* round(ticks * ratio) without 64-bit overflow: high word times ratio is exact. */
    const uint64_t m = ODTC_INSTR_PER_TICK_Q32;
    uint64_t hi = ticks >> 32;
    uint64_t lo = ticks & 0xFFFFFFFFull;
    return hi * m + ((lo * m + 0x80000000ull) >> 32);
}

uint64_t odtc_counter_read_instructions(void)
{
    return odtc_ticks_to_instructions(odtc_counter_read_ticks());
}

void odtc_counter_report(const char *label, uint64_t instructions)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(instructions % 10u));
        instructions /= 10u;
    } while (instructions != 0u && n < (int)sizeof digits);
    char text[24];
    for (int i = 0; i < n; ++i) {
        text[i] = digits[n - 1 - i];
    }
    text[n] = '\0';
    printf("@odtc instructions %s %s\n", label ? label : "-", text);
    fflush(stdout);
}

#else /* host: no instruction counter */

int odtc_counter_available(void)
{
    return 0;
}

void odtc_counter_start(void)
{
}

uint64_t odtc_counter_read_ticks(void)
{
    return 0u;
}

_Static_assert((1000000000ull << 32) / ((uint64_t)ODTC_SYSTICK_HZ << ODTC_ICOUNT_SHIFT) < (1ull << 32),
               "odtc: a SysTick tick must be shorter than an instruction (raise ODTC_ICOUNT_SHIFT)");

uint64_t odtc_ticks_to_instructions(uint64_t ticks)
{
    (void)ticks;
    return 0u;
}

uint64_t odtc_counter_read_instructions(void)
{
    return 0u;
}

void odtc_counter_report(const char *label, uint64_t instructions)
{
    (void)label;
    (void)instructions;
}

#endif
