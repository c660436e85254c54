#!/bin/sh
# Regenerates the fixtures in this folder (after `npm install` here): the
# fetch lists carry the sha256 of two sample photos.
set -e
cd "$(dirname "$0")"
P=../sample/photos
SHA_LAKE=$(sha256sum "$P/lake-at-dawn.jpg" | cut -d' ' -f1) \
SHA_SIGN=$(sha256sum "$P/red-sign-cmyk.jpg" | cut -d' ' -f1) \
	node gen.mjs
