/*
 * decode_floor.c - the floor of any ingest pipeline: decode each JPEG with
 * TurboJPEG at the DCT scale tessera uses for center-crop 224 (the smallest
 * n/8 scale whose short side is still >= 224) and nothing else.
 * usage: decode_floor ROOT LIST.csv   (first column = relative path)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

int main(int argc, char **argv)
{
	char line[4096], path[8192];
	FILE *f;
	tjhandle h = tjInitDecompress();
	int nsf, n = 0;
	tjscalingfactor *sf = tjGetScalingFactors(&nsf);
	unsigned char *buf = NULL, *pix = NULL;
	size_t cap = 0, pcap = 0;

	if (argc != 3 || !(f = fopen(argv[2], "r")))
		return 2;
	if (!fgets(line, sizeof(line), f))
		return 2;
	while (fgets(line, sizeof(line), f)) {
		char *comma = strchr(line, ',');
		if (comma)
			*comma = 0;
		snprintf(path, sizeof(path), "%s/%s", argv[1], line);
		FILE *g = fopen(path, "rb");
		if (!g)
			continue;
		fseek(g, 0, SEEK_END);
		size_t len = (size_t)ftell(g);
		fseek(g, 0, SEEK_SET);
		if (len > cap) {
			buf = realloc(buf, len);
			cap = len;
		}
		if (fread(buf, 1, len, g) != len) {
			fclose(g);
			continue;
		}
		fclose(g);
		int w, hh, ss, cs;
		if (tjDecompressHeader3(h, buf, len, &w, &hh, &ss, &cs))
			continue;
		int bw = w, bh = hh;
		for (int i = 0; i < nsf; i++) {  /* smallest scale keeping short side >= 224 */
			int sw = TJSCALED(w, sf[i]), sh = TJSCALED(hh, sf[i]);
			if ((sw < sh ? sw : sh) >= 224 && (size_t)sw * sh < (size_t)bw * bh) {
				bw = sw;
				bh = sh;
			}
		}
		size_t need = (size_t)bw * bh * 3;
		if (need > pcap) {
			pix = realloc(pix, need);
			pcap = need;
		}
		if (tjDecompress2(h, buf, len, pix, bw, 0, bh, TJPF_RGB, 0) == 0)
			n++;
	}
	fclose(f);
	printf("%d\n", n);
	tjDestroy(h);
	free(buf);
	free(pix);
	return 0;
}
