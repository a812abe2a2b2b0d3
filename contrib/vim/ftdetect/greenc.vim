" greenc.conf and the files it includes from a conf.d/ next to it.
au BufRead,BufNewFile greenc.conf,*/greenc/*.conf,*/greenc/conf.d/*.conf setfiletype greenc
