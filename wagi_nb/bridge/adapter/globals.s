# Wasm globals for the adapter. The adapter may not have data sections, so the
# one pointer it keeps between calls (its state block) lives in a wasm global.
# C reaches it through these two small functions.

	.globaltype	wagi_state_global, i32
wagi_state_global:

	.section	.text.wagi_get_state,"",@
	.hidden	wagi_get_state
	.globl	wagi_get_state
	.type	wagi_get_state,@function
wagi_get_state:
	.functype	wagi_get_state () -> (i32)
	global.get	wagi_state_global
	end_function

	.section	.text.wagi_set_state,"",@
	.hidden	wagi_set_state
	.globl	wagi_set_state
	.type	wagi_set_state,@function
wagi_set_state:
	.functype	wagi_set_state (i32) -> ()
	local.get	0
	global.set	wagi_state_global
	end_function

# wagi_enter(request, response_out): moves the shadow stack, then runs the
# handler. wit-component's allocate_stack gives the adapter a 64 KiB stack
# right above the module's initial memory, which is exactly where an allocator
# that claims all memory present when it starts (wasi-libc before its PR 377,
# Go's runtime) puts its heap. The new stack is in the adapter's own region,
# past a gap (see wagi_setup in adapter.c). Called from the exported handler,
# a C function without a stack frame.
	.globaltype	__stack_pointer, i32
	.functype	wagi_setup () -> (i32)
	.functype	wagi_handle_inner (i32, i32) -> ()

	.section	.text.wagi_enter,"",@
	.hidden	wagi_enter
	.globl	wagi_enter
	.type	wagi_enter,@function
wagi_enter:
	.functype	wagi_enter (i32, i32) -> ()
	call	wagi_setup
	global.set	__stack_pointer
	local.get	0
	local.get	1
	call	wagi_handle_inner
	end_function
