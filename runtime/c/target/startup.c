/*
 * startup.c -- vector table, reset and fault handling for odtc programs on the QEMU
 * Cortex-M boards (mps2-an386, mps2-an500, mps3-an547). Link with
 *   --specs=rdimon.specs -nostartfiles -T link_mps2.ld|link_mps3.ld
 *
 * Reset_Handler: sets VTOR, enables the FPU (and MVE) through CPACR when the build uses
 * one, enables the MemManage/BusFault/UsageFault(/SecureFault) handlers and the
 * divide-by-zero trap, guards the bottom of the stack (Armv8-M: MSPLIM, a stack overflow
 * raises a UsageFault/STKOF; Armv7-M: an MPU no-access region, a stack overflow raises a
 * MemManage fault), copies .data, zeroes .bss, runs constructors, calls
 * initialise_monitor_handles() (semihosting stdio of librdimon) and exit(main()).
 *
 * Every exception other than reset and SysTick (which odtc_platform.c handles) ends the
 * program: a one-line report goes to the semihosting console, and QEMU exits with status
 * ODTC_EXIT_FAULT_BASE + exception number (HardFault 227, MemManage 228, BusFault 229,
 * UsageFault 230, SecureFault 231, NMI 226, anything else 240), see odtc_platform.h.
 *
 * _sbrk (malloc, and newlib's printf, which allocates for %f/%a/%e conversions) takes
 * memory between the end of .bss and the bottom of the stack (__heap_start__ ..
 * __heap_end__ from the linker script). librdimon also has a weak _sbrk, but it bounds the
 * heap only by the current stack pointer or the heap limit that rdimon-crt0 asks the host
 * for (SYS_HEAPINFO), and -nostartfiles leaves rdimon-crt0 out; this strong definition
 * replaces it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "odtc_platform.h"

#if !ODTC_TARGET_MCU
#error "startup.c is for Cortex-M targets only"
#endif

/* ---- linker script symbols (odtc_sections.ld) ---- */
extern uint32_t __StackTop;
extern char __stack_guard_start__;
extern char __stack_guard_end__;
extern uint32_t __data_load__;
extern uint32_t __data_start__;
extern uint32_t __data_end__;
extern uint32_t __bss_start__;
extern uint32_t __bss_end__;
extern char __heap_start__;
extern char __heap_end__;
extern char __ram_start__;
extern char __ram_end__;
extern void (*__preinit_array_start[])(void);
extern void (*__preinit_array_end[])(void);
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

extern void initialise_monitor_handles(void);
extern int main(void);

void Reset_Handler(void);
void odtc_exception_entry(void);
void odtc_fault_report(uint32_t ipsr, uint32_t exc_return, const uint32_t *frame);
void *_sbrk(ptrdiff_t increment);

/* Handlers a program may override with a strong definition (odtc_platform.c does so for
   SysTick_Handler). By default they all end the program with a report. */
void NMI_Handler(void) __attribute__((weak, alias("odtc_exception_entry")));
void HardFault_Handler(void) __attribute__((weak, alias("odtc_exception_entry")));
void MemManage_Handler(void) __attribute__((weak, alias("odtc_exception_entry")));
void BusFault_Handler(void) __attribute__((weak, alias("odtc_exception_entry")));
void UsageFault_Handler(void) __attribute__((weak, alias("odtc_exception_entry")));
void SecureFault_Handler(void) __attribute__((weak, alias("odtc_exception_entry")));
void SVC_Handler(void) __attribute__((weak, alias("odtc_exception_entry")));
void DebugMon_Handler(void) __attribute__((weak, alias("odtc_exception_entry")));
void PendSV_Handler(void) __attribute__((weak, alias("odtc_exception_entry")));
void SysTick_Handler(void) __attribute__((weak, alias("odtc_exception_entry")));

/* ---- system control registers ---- */
#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)
#define SCB_CCR (*(volatile uint32_t *)0xE000ED14u)
#define SCB_SHCSR (*(volatile uint32_t *)0xE000ED24u)
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define SCB_HFSR (*(volatile uint32_t *)0xE000ED2Cu)
#define SCB_MMFAR (*(volatile uint32_t *)0xE000ED34u)
#define SCB_BFAR (*(volatile uint32_t *)0xE000ED38u)
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define MPU_TYPE (*(volatile uint32_t *)0xE000ED90u)
#define MPU_CTRL (*(volatile uint32_t *)0xE000ED94u)
#define MPU_RNR (*(volatile uint32_t *)0xE000ED98u)
#define MPU_RBAR (*(volatile uint32_t *)0xE000ED9Cu)
#define MPU_RASR (*(volatile uint32_t *)0xE000EDA0u)
#define SAU_SFSR (*(volatile uint32_t *)0xE000EDE4u)
#define SAU_SFAR (*(volatile uint32_t *)0xE000EDE8u)

#define CCR_DIV_0_TRP (1u << 4)
#define SHCSR_MEMFAULTENA (1u << 16)
#define SHCSR_BUSFAULTENA (1u << 17)
#define SHCSR_USGFAULTENA (1u << 18)
#define SHCSR_SECUREFAULTENA (1u << 19)

#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
#define ODTC_ARMV8M 1
#else
#define ODTC_ARMV8M 0
#endif

/* ---- vector table ---- */
#define ODTC_NUM_IRQ 96 /* covers the external interrupts of all three boards */

typedef void (*odtc_vector_t)(void);

__attribute__((section(".vectors"), used, aligned(512)))
const odtc_vector_t odtc_vector_table[16 + ODTC_NUM_IRQ] = {
    [0] = (odtc_vector_t)(uintptr_t)&__StackTop,
    [1] = Reset_Handler,
    [2] = NMI_Handler,
    [3] = HardFault_Handler,
    [4] = MemManage_Handler,
    [5] = BusFault_Handler,
    [6] = UsageFault_Handler,
    [7] = SecureFault_Handler,
    [8] = 0,
    [9] = 0,
    [10] = 0,
    [11] = SVC_Handler,
    [12] = DebugMon_Handler,
    [13] = 0,
    [14] = PendSV_Handler,
    [15] = SysTick_Handler,
    [16 ... 16 + ODTC_NUM_IRQ - 1] = odtc_exception_entry,
};

/* ---- reset ---- */
__attribute__((noreturn, used, section(".text.Reset_Handler"))) void Reset_Handler(void)
{
    SCB_VTOR = (uint32_t)(uintptr_t)odtc_vector_table;

#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* CP10 and CP11 full access (FPU, and MVE on the M55), before any FP instruction. */
    SCB_CPACR |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" : : : "memory");
#endif

#if ODTC_ARMV8M
    /* SP below the guard end raises a UsageFault (STKOF). */
    __asm__ volatile("msr msplim, %0" : : "r"(&__stack_guard_end__) : "memory");
    SCB_SHCSR |= SHCSR_MEMFAULTENA | SHCSR_BUSFAULTENA | SHCSR_USGFAULTENA | SHCSR_SECUREFAULTENA;
#else
    SCB_SHCSR |= SHCSR_MEMFAULTENA | SHCSR_BUSFAULTENA | SHCSR_USGFAULTENA;
    if ((MPU_TYPE >> 8) & 0xFFu) {
        /* Region 0: the guard, no access, execute never; the default memory map applies
           everywhere else (PRIVDEFENA). Size field: 2^(SIZE+1) bytes. */
        uint32_t guard_size = (uint32_t)(&__stack_guard_end__ - &__stack_guard_start__);
        uint32_t size_field = (uint32_t)__builtin_ctz(guard_size) - 1u;
        MPU_RNR = 0u;
        MPU_RBAR = (uint32_t)(uintptr_t)&__stack_guard_start__;
        MPU_RASR = (1u << 28) | (size_field << 1) | 1u;
        MPU_CTRL = (1u << 2) | 1u;
    }
#endif
    /* Integer division by zero faults (as it traps on the host) instead of giving 0. */
    SCB_CCR |= CCR_DIV_0_TRP;
    __asm__ volatile("dsb\n\tisb" : : : "memory");

    /* .data: copy the initial image from the code region; .bss: zero. Plain word loops
       through volatile pointers, so the compiler does not turn them into library calls. */
    volatile uint32_t *src = &__data_load__;
    volatile uint32_t *dst = &__data_start__;
    while (dst < &__data_end__) {
        *dst++ = *src++;
    }
    for (volatile uint32_t *p = &__bss_start__; p < &__bss_end__;) {
        *p++ = 0u;
    }

    for (void (**fn)(void) = __preinit_array_start; fn < __preinit_array_end; ++fn) {
        (*fn)();
    }
    for (void (**fn)(void) = __init_array_start; fn < __init_array_end; ++fn) {
        (*fn)();
    }

    initialise_monitor_handles();
    exit(main());
}

/* crti.o/crtn.o normally provide these (-nostartfiles leaves them out); newlib's
   __libc_init_array/__libc_fini_array (reached from exit) call them. The constructors
   themselves run from the init_array loop in Reset_Handler. */
void _init(void);
void _fini(void);
void _init(void)
{
}
void _fini(void)
{
}

/* ---- heap for malloc/printf ---- */
void *_sbrk(ptrdiff_t increment)
{
    static char *brk;
    if (brk == NULL) {
        brk = &__heap_start__;
    }
    char *previous = brk;
    if ((increment > 0 && increment > &__heap_end__ - brk) ||
        (increment < 0 && -increment > brk - &__heap_start__)) {
        errno = ENOMEM;
        return (void *)-1;
    }
    brk += increment;
    return previous;
}

/* ---- exceptions ---- */

/* A small private stack for the fault report: the faulting stack may be exhausted or bad. */
__attribute__((aligned(8))) static uint32_t odtc_fault_stack[256];
uint32_t *const odtc_fault_stack_top = &odtc_fault_stack[256];

/* Common entry for every unexpected exception: r0 = IPSR (exception number), r1 = EXC_RETURN,
   r2 = the stack frame pushed on exception entry (MSP or PSP as EXC_RETURN says). */
__attribute__((naked)) void odtc_exception_entry(void)
{
    __asm__ volatile(
        "mrs r0, ipsr\n\t"
        "mov r1, lr\n\t"
        "tst r1, #4\n\t"
        "ite eq\n\t"
        "mrseq r2, msp\n\t"
        "mrsne r2, psp\n\t"
#if ODTC_ARMV8M
        /* The fault stack lies below MSPLIM: lift the limit first. */
        "movs r3, #0\n\t"
        "msr msplim, r3\n\t"
#endif
        "ldr r3, =odtc_fault_stack_top\n\t"
        "ldr r3, [r3]\n\t"
        "mov sp, r3\n\t"
        "b odtc_fault_report\n\t"
        ".ltorg\n\t");
}

/* Semihosting call (Angel SVC via BKPT 0xAB on M-profile). */
static int odtc_semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

#define SEMIHOST_SYS_WRITE0 0x04
#define SEMIHOST_SYS_EXIT 0x18
#define SEMIHOST_SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define ADP_STOPPED_RUNTIME_ERROR_UNKNOWN 0x20023

typedef struct {
    char text[384];
    size_t len;
} odtc_line_t;

static void line_puts(odtc_line_t *line, const char *s)
{
    while (*s && line->len + 1 < sizeof line->text) {
        line->text[line->len++] = *s++;
    }
    line->text[line->len] = '\0';
}

static void line_hex(odtc_line_t *line, const char *name, uint32_t value)
{
    static const char hexdigits[] = "0123456789abcdef";
    char buf[12];
    buf[0] = '0';
    buf[1] = 'x';
    for (int i = 0; i < 8; ++i) {
        buf[2 + i] = hexdigits[(value >> (28 - 4 * i)) & 0xFu];
    }
    buf[10] = '\0';
    line_puts(line, " ");
    line_puts(line, name);
    line_puts(line, "=");
    line_puts(line, buf);
}

static void line_dec(odtc_line_t *line, uint32_t value)
{
    char buf[12];
    int n = 0;
    do {
        buf[n++] = (char)('0' + (int)(value % 10u));
        value /= 10u;
    } while (value != 0u);
    char out[12];
    for (int i = 0; i < n; ++i) {
        out[i] = buf[n - 1 - i];
    }
    out[n] = '\0';
    line_puts(line, out);
}

static const char *exception_name(uint32_t exc)
{
    switch (exc) {
    case 2: return "NMI";
    case 3: return "HardFault";
    case 4: return "MemManage";
    case 5: return "BusFault";
    case 6: return "UsageFault";
    case 7: return "SecureFault";
    case 11: return "SVCall";
    case 12: return "DebugMonitor";
    case 14: return "PendSV";
    case 15: return "SysTick";
    default: return exc >= 16 ? "IRQ" : "reserved exception";
    }
}

/* Names of the set CFSR bits (MemManage [7:0], BusFault [15:8], UsageFault [31:16]). */
static void line_cfsr_bits(odtc_line_t *line, uint32_t cfsr)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } bits[] = {
        {0, "IACCVIOL"}, {1, "DACCVIOL"}, {3, "MUNSTKERR"}, {4, "MSTKERR"},
        {8, "IBUSERR"}, {9, "PRECISERR"}, {10, "IMPRECISERR"}, {11, "UNSTKERR"},
        {12, "STKERR"}, {16, "UNDEFINSTR"}, {17, "INVSTATE"}, {18, "INVPC"},
        {19, "NOCP"}, {20, "STKOF"}, {24, "UNALIGNED"}, {25, "DIVBYZERO"},
    };
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; ++i) {
        if (cfsr & (1u << bits[i].bit)) {
            line_puts(line, " ");
            line_puts(line, bits[i].name);
        }
    }
}

__attribute__((noreturn, used)) void odtc_fault_report(uint32_t ipsr, uint32_t exc_return,
                                                       const uint32_t *frame)
{
    uint32_t exc = ipsr & 0x1FFu;
    odtc_line_t line = {.len = 0};
    line_puts(&line, "\nodtc: fatal exception: ");
    line_puts(&line, exception_name(exc));
    line_puts(&line, " (exception ");
    line_dec(&line, exc);
    line_puts(&line, ")");
    /* The stacked frame is r0-r3, r12, lr, pc, xpsr; read it only if it lies in RAM outside
       the stack guard (a read there would fault again, and a fault in HardFault locks up). */
    uintptr_t f = (uintptr_t)frame;
    int in_ram = f >= (uintptr_t)&__ram_start__ && f + 32u <= (uintptr_t)&__ram_end__;
    int in_guard = f + 32u > (uintptr_t)&__stack_guard_start__ && f < (uintptr_t)&__stack_guard_end__;
    if (in_ram && !in_guard && (f & 3u) == 0u) {
        line_hex(&line, "pc", frame[6]);
        line_hex(&line, "lr", frame[5]);
    }
    line_hex(&line, "exc_return", exc_return);
    uint32_t cfsr = SCB_CFSR;
    line_hex(&line, "cfsr", cfsr);
    line_hex(&line, "hfsr", SCB_HFSR);
    if (cfsr & (1u << 7)) {
        line_hex(&line, "mmfar", SCB_MMFAR);
    }
    if (cfsr & (1u << 15)) {
        line_hex(&line, "bfar", SCB_BFAR);
    }
#if ODTC_ARMV8M
    if (exc == 7u) {
        line_hex(&line, "sfsr", SAU_SFSR);
        line_hex(&line, "sfar", SAU_SFAR);
    }
#endif
    line_cfsr_bits(&line, cfsr);
    uint32_t mmfar = SCB_MMFAR;
    if ((cfsr & ((1u << 20) | (1u << 4) | (1u << 12))) ||
        ((cfsr & (1u << 7)) && mmfar >= (uint32_t)(uintptr_t)&__stack_guard_start__ &&
         mmfar < (uint32_t)(uintptr_t)&__stack_guard_end__)) {
        line_puts(&line, " (stack overflow)");
    }
    line_puts(&line, "\n");
    odtc_semihost(SEMIHOST_SYS_WRITE0, line.text);

    /* Faults (NMI .. SecureFault) get their own code; SVC, PendSV, SysTick without the
       counter, and interrupts share ODTC_EXIT_UNEXPECTED. */
    uint32_t code = (exc >= 2u && exc <= 7u) ? ODTC_EXIT_FAULT_BASE + exc : ODTC_EXIT_UNEXPECTED;
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, code};
    odtc_semihost(SEMIHOST_SYS_EXIT_EXTENDED, block);
    /* Without SYS_EXIT_EXTENDED: stop with a non-zero status (QEMU exits with 1). */
    odtc_semihost(SEMIHOST_SYS_EXIT, (const void *)(uintptr_t)ADP_STOPPED_RUNTIME_ERROR_UNKNOWN);
    for (;;) {
    }
}
