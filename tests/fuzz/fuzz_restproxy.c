/* fuzz_restproxy.c: libFuzzer target: the REST proxy's wire parsers
 * (src/roles/restproxy/restproxy_wire.c): produce bodies in both formats,
 * consumer settings, partition and offset lists, subscriptions, base64,
 * request paths, Content-Type and Accept headers.
 *
 * The first input byte picks the parser; the rest is its input. Checked:
 * every call returns 0 or an error code with a message, frees what it
 * allocated, and base64 round-trips (what decodes, encodes to text that
 * decodes to the same bytes). These parsers see every byte a client sends before anything is
 * produced to Kafka.
 * How it fits: `make fuzz` runs it; `make test` replays tests/corpus/restproxy/.
 */
#include "roles/restproxy/restproxy_int.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t which = data[0] % 9;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	char msg[256];
	char *z = malloc(len + 1); /* a NUL-terminated copy for the header parsers */
	memcpy(z, in, len);
	z[len] = '\0';
	switch (which) {
	case 0:
	case 1: {
		sl_rp_records_t r = {0};
		int code = sl_rp__parse_records(in, len, which ? SL_RP_FMT_JSON : SL_RP_FMT_BINARY, -1, &r, msg,
						sizeof(msg));
		if (code == 0) {
			for (size_t i = 0; i < r.n; i++)
				if (r.recs[i].partition < -1)
					abort();
		}
		sl_rp__records_free(&r);
		break;
	}
	case 2: {
		sl_rp_consumer_conf_t c;
		sl_rp__parse_consumer_conf(in, len, &c, msg, sizeof(msg));
		break;
	}
	case 3:
	case 4: {
		rd_kafka_topic_partition_list_t *l = NULL;
		int code = sl_rp__parse_partitions(in, len, which == 3 ? "offsets" : "partitions", which == 3, &l, msg,
						   sizeof(msg));
		if (code == 0) {
			for (int i = 0; i < l->cnt; i++)
				if (which == 3 && (l->elems[i].offset < 0 || l->elems[i].offset == INT64_MAX))
					abort(); /* the commit adds one: it must not overflow */
			rd_kafka_topic_partition_list_destroy(l);
		} else if (l) {
			abort();
		}
		break;
	}
	case 5: {
		rd_kafka_topic_partition_list_t *l = NULL;
		if (sl_rp__parse_subscription(in, len, &l, msg, sizeof(msg)) == 0)
			rd_kafka_topic_partition_list_destroy(l);
		else if (l)
			abort();
		break;
	}
	case 6: {
		unsigned char *out = malloc(sl_base64_decoded_max(len));
		long n = sl_base64_decode(in, len, SL_RP_BASE64_IN, out, NULL);
		if (n >= 0) {
			/* What decodes encodes to text that decodes to the same bytes
			 * (the decoder may accept non-zero padding bits, RFC 4648 3.5). */
			sl_buf_t b = SL_BUF_INIT;
			sl_base64_encode(&b, out, (size_t)n, SL_RP_BASE64_OUT);
			unsigned char *again = malloc(sl_base64_decoded_max(b.len));
			if (sl_base64_decode(b.data ? b.data : "", b.len, SL_RP_BASE64_IN, again, NULL) != n ||
			    (n && memcmp(again, out, (size_t)n)))
				abort();
			free(again);
			sl_buf_free(&b);
		}
		free(out);
		break;
	}
	case 7: {
		char *segs[8];
		int n = sl_rp__split_path((sl_iov_t){z, len}, segs, 8);
		for (int i = 0; i < n; i++)
			free(segs[i]);
		break;
	}
	default: {
		sl_rp_ctype_t ct;
		const char *why;
		sl_rp__parse_ctype(z, &ct, &why);
		sl_rp__negotiate(z, sl_rp_meta_types, sl_rp_meta_ntypes);
		break;
	}
	}
	free(z);
	return 0;
}
