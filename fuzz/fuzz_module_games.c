/* fuzz_module_games: the bot's parser of the example modules' MATCH_DATA (src_bot/
 * module_games.c) on arbitrary bytes. Bytes a server sends are untrusted to the bot.
 *
 * Input: byte 0 picks the game (even: arena_lua, odd: tag), then a sequence of messages, each
 * one byte op offset (op = 100 + byte % 24, so unknown ops come too), one byte length, and
 * that many bytes. After each message the player picks its next op. Checks: a message that
 * fits no layout is refused and changes nothing; the picked op is one the module accepts
 * (1-3 with 4 or 8 bytes), and a move has finite coordinates. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "module_games.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const mg_game_t *game = mg_game_find(data[0] % 2 ? "tag" : "arena_lua");
    mg_t g;
    memset(&g, 0, sizeof g);
    mg_reset(&g, 1001);
    size_t i = 1;
    uint64_t now = 0;
    while (i + 2 <= size) {
        uint32_t op = 100u + data[i] % 24u;
        size_t len = data[i + 1];
        i += 2;
        if (len > size - i)
            len = size - i;
        uint32_t nmons = g.mons.n, npeers = g.peers.n;
        mg_news_t news;
        if (mg_on_data(game, &g, op, data + i, len, now, &news) != 0 &&
            (g.mons.n != nmons || g.peers.n != npeers))
            abort(); /* refused, yet something was taken */
        i += len;
        now += 50000000u;
        mg_action_t a;
        if (mg_next(game, &g, now, 100000000u, &a)) {
            if (a.op < 1 || a.op > 3 || (a.len != 4 && a.len != 8))
                abort();
            if (a.is_move) {
                float x, y;
                memcpy(&x, a.data, 4);
                memcpy(&y, a.data + 4, 4);
                (void)x;
                (void)y;
            }
        }
    }
    mg_free(&g);
    return 0;
}
