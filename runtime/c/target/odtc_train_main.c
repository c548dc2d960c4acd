/* Training driver for a compiled model on a Cortex-M board under QEMU (semihosting).
 *
 * Reads `data.bin` (written by `odtc train --emulate`) from the host through semihosting
 * file I/O, runs odtc_train_step once per training record in file order, evaluates
 * odtc_infer on the test records, writes the trained parameters to `trained.bin` and prints
 * machine-readable lines for the host:
 *
 *   @odtc loss <step> <float bits, hex>
 *   @odtc step_instructions <min> <max> <total> <steps>
 *   @odtc correct <n> <of>
 *
 * data.bin (little-endian): magic "ODTC", u32 version 1, u32 train records, u32 test
 * records, u32 input numel, u32 target numel; then each record as input odtc_input_t[numel]
 * followed by target odtc_target_t[numel] (model.h: float32 for regression targets, int32
 * class labels for cross-entropy; test records hold the class label).
 * trained.bin: for each parameter in odtc_param order, numel float32.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "odtc_platform.h"

static odtc_input_t input_buf[ODTC_INPUT_NUMEL];
static odtc_target_t target_buf[ODTC_TARGET_NUMEL > 0 ? ODTC_TARGET_NUMEL : 1];
static float output_buf[ODTC_OUTPUT_NUMEL];
/* Trained parameters go out in chunks: no buffer the size of the largest parameter. */
#define PARAM_CHUNK 256u
static float param_chunk[PARAM_CHUNK];

static int read_u32(FILE *f, uint32_t *v)
{
    return fread(v, sizeof *v, 1, f) == 1 ? 0 : -1;
}

static uint32_t float_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

int main(void)
{
    FILE *f = fopen("data.bin", "rb");
    if (f == NULL) {
        printf("odtc: cannot open data.bin\n");
        return 2;
    }
    char magic[4];
    uint32_t version, n_train, n_test, in_numel, tgt_numel;
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "ODTC", 4) != 0 || read_u32(f, &version) ||
        read_u32(f, &n_train) || read_u32(f, &n_test) || read_u32(f, &in_numel) || read_u32(f, &tgt_numel) ||
        version != 1u || in_numel != ODTC_INPUT_NUMEL || tgt_numel != ODTC_TARGET_NUMEL) {
        printf("odtc: data.bin does not match this model (input %u, target %u values)\n",
               (unsigned)ODTC_INPUT_NUMEL, (unsigned)ODTC_TARGET_NUMEL);
        return 3;
    }
    odtc_init();
    odtc_counter_start();
    uint64_t min_ins = UINT64_MAX, max_ins = 0, total_ins = 0;
    for (uint32_t step = 0; step < n_train; ++step) {
        if (fread(input_buf, sizeof(odtc_input_t), in_numel, f) != in_numel ||
            fread(target_buf, sizeof(odtc_target_t), tgt_numel, f) != tgt_numel) {
            printf("odtc: data.bin ends early at training record %u\n", (unsigned)step);
            return 4;
        }
        const uint64_t before = odtc_counter_read_instructions();
        const float loss = odtc_train_step(input_buf, target_buf);
        const uint64_t spent = odtc_counter_read_instructions() - before;
        total_ins += spent;
        min_ins = spent < min_ins ? spent : min_ins;
        max_ins = spent > max_ins ? spent : max_ins;
        printf("@odtc loss %u %08lx\n", (unsigned)step, (unsigned long)float_bits(loss));
    }
    if (n_train > 0) {
        printf("@odtc step_instructions %llu %llu %llu %u\n", (unsigned long long)min_ins,
               (unsigned long long)max_ins, (unsigned long long)total_ins, (unsigned)n_train);
    }
    uint32_t correct = 0;
    for (uint32_t i = 0; i < n_test; ++i) {
        if (fread(input_buf, sizeof(odtc_input_t), in_numel, f) != in_numel ||
            fread(target_buf, sizeof(odtc_target_t), tgt_numel, f) != tgt_numel) {
            printf("odtc: data.bin ends early at test record %u\n", (unsigned)i);
            return 4;
        }
        odtc_infer(input_buf, output_buf);
        uint32_t best = 0;
        for (uint32_t j = 1; j < ODTC_OUTPUT_NUMEL; ++j) {
            if (output_buf[j] > output_buf[best]) {
                best = j;
            }
        }
        correct += (odtc_target_t)best == target_buf[0] ? 1u : 0u;
    }
    fclose(f);
    printf("@odtc correct %u %u\n", (unsigned)correct, (unsigned)n_test);
    FILE *out = fopen("trained.bin", "wb");
    if (out == NULL) {
        printf("odtc: cannot write trained.bin\n");
        return 5;
    }
    for (size_t i = 0; i < odtc_param_count(); ++i) {
        for (size_t off = 0; off < odtc_param_numel(i); off += PARAM_CHUNK) {
            const size_t rest = odtc_param_numel(i) - off;
            const size_t n = rest < PARAM_CHUNK ? rest : PARAM_CHUNK;
            odtc_param_read_range(i, off, n, param_chunk);
            if (fwrite(param_chunk, sizeof(float), n, out) != n) {
                printf("odtc: short write to trained.bin\n");
                return 5;
            }
        }
    }
    fclose(out);
    return 0;
}
