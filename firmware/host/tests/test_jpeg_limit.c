/* The JPEG frame-buffer limit (sc_config.h, docs/JPEG-BUFFER.md): the lowest quality number per
 * frame size and buffer, so that no accepted setting makes a frame the driver would drop. */
#include <stdint.h>

#include "sc_test.h"
#include "securecam/sc_config.h"

#define QMIN SC_CONFIG_QUALITY_MIN
#define QMAX SC_CONFIG_QUALITY_MAX

/* What the driver can hold: whole 1,024-byte DMA pieces only (cam_hal.c, FB-OVF). */
static uint32_t usable(uint32_t buffer)
{
    return buffer / SC_CONFIG_JPEG_DMA_CHUNK * SC_CONFIG_JPEG_DMA_CHUNK;
}

static void test_buffers_are_what_the_driver_allocates_at_init(void)
{
    CHECK(sc_config_jpeg_buffer_bytes(10) == SC_CONFIG_JPEG_BUFFER_PSRAM);   /* UXGA */
    CHECK(sc_config_jpeg_buffer_bytes(3) == SC_CONFIG_JPEG_BUFFER_NO_PSRAM); /* CIF */
    CHECK(sc_config_frame_pixels(1) == 160u * 120u);
    CHECK(sc_config_frame_pixels(8) == 1280u * 720u);
    CHECK(sc_config_frame_pixels(0) == 0 && sc_config_frame_pixels(11) == 0);
    CHECK(sc_config_jpeg_buffer_bytes(11) == 0);
}

/* The table in docs/JPEG-BUFFER.md. */
static void test_floors_match_the_documented_table(void)
{
    static const uint8_t psram[10] = {4, 4, 4, 4, 4, 4, 5, 7, 10, 17};
    for (uint8_t size = 1; size <= 10; size++) {
        CHECK(sc_config_min_jpeg_quality(size, SC_CONFIG_JPEG_BUFFER_PSRAM) == psram[size - 1]);
    }
    CHECK(sc_config_min_jpeg_quality(1, SC_CONFIG_JPEG_BUFFER_NO_PSRAM) == 4);
    CHECK(sc_config_min_jpeg_quality(2, SC_CONFIG_JPEG_BUFFER_NO_PSRAM) == 10);
    CHECK(sc_config_min_jpeg_quality(3, SC_CONFIG_JPEG_BUFFER_NO_PSRAM) == 18);
}

static void test_every_accepted_quality_fits_and_the_floor_is_the_lowest_that_does(void)
{
    static const uint32_t buffers[] = {SC_CONFIG_JPEG_BUFFER_PSRAM, SC_CONFIG_JPEG_BUFFER_NO_PSRAM,
                                       61440, 1000000, 5000};
    for (size_t b = 0; b < sizeof buffers / sizeof buffers[0]; b++) {
        for (uint8_t size = 1; size <= 10; size++) {
            uint8_t lowest = sc_config_min_jpeg_quality(size, buffers[b]);
            if (lowest == 0) {
                CHECK(sc_config_jpeg_worst_bytes(size, QMAX) > usable(buffers[b]));
                continue;
            }
            for (unsigned q = lowest; q <= QMAX; q++) {
                CHECK(sc_config_jpeg_worst_bytes(size, (uint8_t)q) <= usable(buffers[b]));
            }
            if (lowest > QMIN) {
                CHECK(sc_config_jpeg_worst_bytes(size, (uint8_t)(lowest - 1)) > usable(buffers[b]));
            }
        }
    }
}

static void test_a_frame_fits_only_in_whole_dma_pieces(void)
{
    uint32_t worst = sc_config_jpeg_worst_bytes(10, 20);
    uint32_t pieces = (worst + SC_CONFIG_JPEG_DMA_CHUNK - 1) / SC_CONFIG_JPEG_DMA_CHUNK;
    uint32_t exact = pieces * SC_CONFIG_JPEG_DMA_CHUNK;
    CHECK(sc_config_min_jpeg_quality(10, exact) <= 20);
    CHECK(sc_config_min_jpeg_quality(10, exact + SC_CONFIG_JPEG_DMA_CHUNK - 1) <= 20);
    CHECK(sc_config_min_jpeg_quality(10, exact - 1) > 20); /* the last piece no longer fits */
}

static void test_worst_case_grows_with_size_and_falls_with_quality(void)
{
    for (uint8_t size = 1; size <= 10; size++) {
        for (unsigned q = QMIN + 1; q <= QMAX; q++) {
            CHECK(sc_config_jpeg_worst_bytes(size, (uint8_t)q) <=
                  sc_config_jpeg_worst_bytes(size, (uint8_t)(q - 1)));
        }
    }
    for (uint8_t size = 2; size <= 10; size++) {
        CHECK(sc_config_min_jpeg_quality(size, SC_CONFIG_JPEG_BUFFER_PSRAM) >=
              sc_config_min_jpeg_quality(size - 1, SC_CONFIG_JPEG_BUFFER_PSRAM));
    }
    /* 0.25 B/px at quality 12 plus the header allowance. */
    CHECK(sc_config_jpeg_worst_bytes(10, 12) == 1024u + 480000u);
}

static void test_unknown_sizes_and_qualities_have_no_worst_case(void)
{
    CHECK(sc_config_jpeg_worst_bytes(0, 12) == 0);
    CHECK(sc_config_jpeg_worst_bytes(11, 12) == 0);
    CHECK(sc_config_jpeg_worst_bytes(5, 3) == 0);
    CHECK(sc_config_jpeg_worst_bytes(5, 64) == 0);
    CHECK(sc_config_min_jpeg_quality(0, SC_CONFIG_JPEG_BUFFER_PSRAM) == 0);
    CHECK(sc_config_min_jpeg_quality(10, 1024) == 0); /* nothing fits */
}

static void test_quality_in_force_raises_only_below_the_floor(void)
{
    uint32_t psram = SC_CONFIG_JPEG_BUFFER_PSRAM;
    CHECK(sc_config_jpeg_quality_in_force(10, 4, psram) == 17);
    CHECK(sc_config_jpeg_quality_in_force(10, 12, psram) == 17);
    CHECK(sc_config_jpeg_quality_in_force(10, 17, psram) == 17);
    CHECK(sc_config_jpeg_quality_in_force(10, 30, psram) == 30);
    CHECK(sc_config_jpeg_quality_in_force(5, 4, psram) == 4);
    CHECK(sc_config_jpeg_quality_in_force(5, 12, psram) == 12);
    CHECK(sc_config_jpeg_quality_in_force(3, 12, SC_CONFIG_JPEG_BUFFER_NO_PSRAM) == 18);
    CHECK(sc_config_jpeg_quality_in_force(5, 200, psram) == QMAX);
    CHECK(sc_config_jpeg_quality_in_force(10, 12, 1024) == QMAX); /* nothing fits: most compression */
}

int main(void)
{
    RUN(test_buffers_are_what_the_driver_allocates_at_init);
    RUN(test_floors_match_the_documented_table);
    RUN(test_every_accepted_quality_fits_and_the_floor_is_the_lowest_that_does);
    RUN(test_a_frame_fits_only_in_whole_dma_pieces);
    RUN(test_worst_case_grows_with_size_and_falls_with_quality);
    RUN(test_unknown_sizes_and_qualities_have_no_worst_case);
    RUN(test_quality_in_force_raises_only_below_the_floor);
    return TEST_REPORT();
}
