package dev.editr1.data;

/** How images travel to an HTTP judge. */
public enum ImageFormat {
    PNG("png", "image/png"), JPEG("jpeg", "image/jpeg");

    /** ImageIO's format name */
    public final String formatName;
    public final String mime;

    ImageFormat(String formatName, String mime) {
        this.formatName = formatName;
        this.mime = mime;
    }
}
