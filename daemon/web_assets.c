/*
 * daemon/web_assets.c — the page (daemon/web/index.html, app.js, style.css)
 * inside the contimg-web binary: the assembler's .incbin copies each file
 * into .rodata at build time (the Makefile rebuilds this object when one
 * changes), so the service has no runtime file dependency and no build step
 * beyond the compiler.  Each file is followed by a NUL that is not part of
 * it; web.c serves [NAME, NAME_end).
 */
#define WEB_ASSET(sym, file)                                                   \
	__asm__(".section .rodata\n"                                           \
		".global " #sym "\n"                                           \
		".type " #sym ", @object\n"                                    \
		".balign 16\n" #sym ":\n"                                      \
		".incbin \"" file "\"\n"                                      \
		".global " #sym "_end\n" #sym "_end:\n"                        \
		".byte 0\n"                                                    \
		".previous\n")

WEB_ASSET(web_index_html, "daemon/web/index.html");
WEB_ASSET(web_app_js, "daemon/web/app.js");
WEB_ASSET(web_style_css, "daemon/web/style.css");
