" Vim syntax file for greenc.conf (greenc's nginx-style configuration).
" Install: cp -r contrib/vim/* ~/.vim/   (syntax/ and ftdetect/)
" The directive list is `greenc -L`; tests/integration/test_contrib.py fails
" when it and this file differ.

if exists("b:current_syntax")
  finish
endif

syn match   greencComment   "#.*$" contains=@Spell
syn region  greencString    start=+"+ skip=+\\\\\|\\"+ end=+"+
syn region  greencString    start=+'+ skip=+\\\\\|\\'+ end=+'+
syn match   greencVariable  "\$[A-Za-z_][A-Za-z0-9_]*\|\${[A-Za-z_][A-Za-z0-9_]*}"
syn match   greencSize      "\<[0-9]\+[kKmMgG]\?\>"
syn match   greencTime      "\<[0-9]\+\(ms\|s\|m\|h\|d\)\>"
syn keyword greencBoolean   on off auto
syn keyword greencListenOpt default_server reuseport deferred proxy_protocol
syn match   greencListenOpt "\<\(backlog\|ipv6only\|mode\|owner\)="
syn match   greencLocMod    "\s\zs\(=\|\~\*\|\~\|\^\~\)\ze\s"
syn keyword greencInclude   include
syn keyword greencDirective access_log add_request_id_header alias allow allow_root_workers app chdir
syn keyword greencDirective client_body_buffer_size client_body_temp_path client_body_timeout
syn keyword greencDirective client_header_buffer_size client_header_timeout client_max_body_size
syn keyword greencDirective daemon default_type deny disable_symlinks env error_log
syn keyword greencDirective graceful_timeout home http index keepalive_requests keepalive_timeout
syn keyword greencDirective large_client_header_buffers limit_as limit_nofile limit_request_fields listen location
syn keyword greencDirective log_format max_requests pass pid python_path real_ip_header
syn keyword greencDirective real_ip_recursive request_buffering request_id_header return root
syn keyword greencDirective router_workers script_name send_timeout server server_name
syn keyword greencDirective server_tokens set_real_ip_from ssl_certificate ssl_certificate_key
syn keyword greencDirective ssl_ciphers ssl_client_certificate ssl_conf_command ssl_ktls
syn keyword greencDirective ssl_password_file ssl_prefer_server_ciphers ssl_protocols
syn keyword greencDirective ssl_session_cache ssl_session_tickets ssl_session_timeout
syn keyword greencDirective ssl_verify_client ssl_verify_depth
syn keyword greencDirective status tcp_nodelay threads timeout try_files types user worker_connections workers
syn keyword greencDirective wsgi

hi def link greencComment   Comment
hi def link greencString    String
hi def link greencVariable  Identifier
hi def link greencSize      Number
hi def link greencTime      Number
hi def link greencBoolean   Boolean
hi def link greencListenOpt Type
hi def link greencLocMod    Operator
hi def link greencInclude   Include
hi def link greencDirective Statement

let b:current_syntax = "greenc"
