/* resolve: host names resolved off the loop (see resolve.h). */
#include "resolve.h"

#include <string.h>

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    resolve_t *rq = req->data;
    rq->pending = 0;
    if (status == 0 && !res)
        status = UV_EAI_NONAME;
    rq->cb(rq, status, status == 0 ? res->ai_addr : NULL);
    if (res)
        uv_freeaddrinfo(res);
}

int resolve_start(uv_loop_t *loop, resolve_t *rq, const char *host, resolve_cb cb, void *data)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rq->cb = cb;
    rq->data = data;
    rq->gai.data = rq;
    rq->pending = 1;
    int rc = uv_getaddrinfo(loop, &rq->gai, on_gai, host, NULL, &hints);
    if (rc != 0)
        rq->pending = 0;
    return rc;
}

void resolve_cancel(resolve_t *rq)
{
    if (rq->pending)
        uv_cancel((uv_req_t *)&rq->gai);
}
