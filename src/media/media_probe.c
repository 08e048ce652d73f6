/* media_probe.c — what a media file is, read with FFmpeg's libavformat: streams, duration, size.
 * Probing is bounded (probe size and analysis time) so that a hostile file cannot stall a worker. */
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <stdio.h>
#include <string.h>

#include "media/media.h"
#include "media/media_internal.h"

static bool demuxer_is_image(const char *name)
{
    size_t length = strlen(name);
    return strcmp(name, "image2") == 0 || (length > 5 && strcmp(name + length - 5, "_pipe") == 0);
}

/* Demuxers that turn any text or byte soup into a "video" of its characters (the ANSI art, binary text
 * and XBIN readers pick files by extension alone): a README.txt is not an input. */
static bool demuxer_is_text(const char *name)
{
    static const char *const text_demuxers[] = {"tty", "bin", "xbin", "adf", "idf"};
    for (size_t i = 0; i < sizeof(text_demuxers) / sizeof(text_demuxers[0]); i++)
        if (strcmp(name, text_demuxers[i]) == 0) return true;
    return false;
}

int media_probe_format(AVFormatContext *format, const char *url, AVDictionary **options, media_info *out,
                       char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    int rc = avformat_open_input(&format, url, NULL, options);
    if (rc < 0) {
        char reason[128];
        av_strerror(rc, reason, sizeof(reason));
        snprintf(err, err_size, "not a media file (%s)", reason);
        return -1; /* avformat_open_input frees the context on failure */
    }
    if (demuxer_is_text(format->iformat->name)) {
        snprintf(err, err_size, "not a media file (text)");
        avformat_close_input(&format);
        return -1;
    }
    rc = avformat_find_stream_info(format, NULL);
    if (rc < 0) {
        snprintf(err, err_size, "its streams could not be read");
        avformat_close_input(&format);
        return -1;
    }
    snprintf(out->container, sizeof(out->container), "%s", format->iformat->name);
    double longest = 0;
    for (unsigned i = 0; i < format->nb_streams; i++) {
        const AVStream *stream = format->streams[i];
        const AVCodecParameters *codec = stream->codecpar;
        const char *codec_name = avcodec_get_name(codec->codec_id);
        if (stream->duration != AV_NOPTS_VALUE && stream->time_base.den > 0) {
            double seconds = (double)stream->duration * av_q2d(stream->time_base);
            if (seconds > longest) longest = seconds;
        }
        if (codec->codec_type == AVMEDIA_TYPE_VIDEO && !(stream->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
            if (out->width == 0) {
                out->width = codec->width;
                out->height = codec->height;
                snprintf(out->video_codec, sizeof(out->video_codec), "%s", codec_name);
            }
            out->has_video = true;
        } else if (codec->codec_type == AVMEDIA_TYPE_AUDIO && !out->has_audio) {
            out->has_audio = true;
            snprintf(out->audio_codec, sizeof(out->audio_codec), "%s", codec_name);
        }
    }
    out->is_image = out->has_video && !out->has_audio && demuxer_is_image(format->iformat->name);
    if (out->is_image) out->has_video = false; /* a still is not a video */
    out->duration = format->duration != AV_NOPTS_VALUE && format->duration > 0
                        ? (double)format->duration / AV_TIME_BASE
                        : longest;
    if (out->is_image) out->duration = 0;
    int64_t size = format->pb != NULL ? avio_size(format->pb) : -1;
    out->size = size > 0 ? size : 0;
    avformat_close_input(&format);
    if (!out->has_video && !out->has_audio && !out->is_image) {
        snprintf(err, err_size, "it has no audio, video or image stream");
        return -1;
    }
    return 0;
}

int media_probe(const char *path, media_info *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    av_log_set_level(AV_LOG_QUIET);
    AVFormatContext *format = avformat_alloc_context();
    if (format == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    format->probesize = 8 << 20;
    format->max_analyze_duration = 5 * AV_TIME_BASE;
    AVDictionary *options = NULL;
    /* only local files: a crafted playlist must not make the demuxer open other files or URLs */
    av_dict_set(&options, "protocol_whitelist", "file", 0);
    int rc = media_probe_format(format, path, &options, out, err, err_size);
    av_dict_free(&options);
    return rc;
}
