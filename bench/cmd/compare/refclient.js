'use strict';

// The bench client of the JavaScript reference invoker (futoin-invoker's
// SimpleCCM, pinned in interop/package.json), driven by bench/cmd/compare
// (case jsref-invoker and jsref-both), which embeds this file and runs it
// with `node -e`. It can be run by hand as well:
//
//   node refclient.js INTEROP_DIR URL IFACEVER CONC WARMUP_MS DURATION_MS
//
// It registers IFACEVER at URL (limit zone "unlimited": the default zone
// allows 10 calls/s), runs CONC callers, each calling echo({msg}) and
// checking the answer, for WARMUP_MS (not measured), prints "START" (or exits 1 if a warm-up call failed), runs
// them for DURATION_MS more, waits for the calls in flight and prints one
// line "DONE {json}" with the calls, errors, elapsed time, p50/p99 latency
// and this process's CPU time over the measured part. It exits when stdin
// closes, whatever it was doing, so it never outlives its parent.

const path = require( 'path' );
const { createRequire } = require( 'module' );

const PAYLOAD = '0123456789abcdef'; // bench/cmd/compare's payload
const MAX_ERRORS = 100; // as bench/cmd/compare's maxErrors
const MAX_SAMPLES = 1 << 21;

function main( argv ) {
    if ( argv.length !== 6 ) {
        process.stderr.write( 'usage: node refclient.js INTEROP_DIR URL IFACEVER CONC WARMUP_MS DURATION_MS\n' );
        process.exit( 2 );
    }

    const [ interop, url, ifacever ] = argv;
    const [ conc, warmup_ms, dur_ms ] = argv.slice( 3 ).map( ( x ) => parseInt( x, 10 ) );
    const req = createRequire( path.join( interop, 'package.json' ) );
    const $as = req( 'futoin-asyncsteps' );
    const { SimpleCCM } = req( 'futoin-invoker' );

    process.stdin.on( 'end', () => process.exit( 0 ) );
    process.stdin.on( 'error', () => process.exit( 0 ) );
    process.stdin.resume();

    const ccm = new SimpleCCM();
    const lat = new Float64Array( MAX_SAMPLES ); // µs
    let n = 0;
    let calls = 0;
    let errors = 0;
    let first_err = null;
    let measuring = false;
    let deadline = 0;
    let running = 0;
    let on_idle = null;

    // One caller: one call after the other until the deadline passes.
    const caller = () => {
        if ( Date.now() >= deadline || errors >= MAX_ERRORS ) {
            if ( --running === 0 ) {
                on_idle();
            }

            return;
        }

        const t0 = process.hrtime.bigint();

        $as().add(
            ( as ) => {
                ccm.iface( 'bench' ).call( as, 'echo', { msg: PAYLOAD } );
                as.add( ( as, r ) => {
                    if ( !r || r.msg !== PAYLOAD ) {
                        as.error( 'EchoMismatch', JSON.stringify( r ) );
                    }

                    if ( measuring ) {
                        ++calls;

                        if ( n < MAX_SAMPLES ) {
                            lat[n++] = Number( process.hrtime.bigint() - t0 ) / 1e3;
                        }
                    }

                    setImmediate( caller );
                } );
            },
            ( as, err ) => {
                ++errors;
                first_err = first_err || `${err}: ${as.state.error_info}`;
                setImmediate( caller );
            }
        ).execute();
    };

    const phase = ( ms, then ) => {
        deadline = Date.now() + ms;
        running = conc;
        on_idle = then;

        for ( let i = 0; i < conc; ++i ) {
            caller();
        }
    };

    const pct = ( sorted, p ) => ( sorted.length ? sorted[Math.max( Math.ceil( p / 100 * sorted.length ) - 1, 0 )] : 0 );

    $as().add(
        ( as ) => {
            ccm.register( as, 'bench', ifacever, url, null, { limitZone: 'unlimited' } );
        },
        ( as, err ) => {
            process.stderr.write( `refclient.js: register: ${err}: ${as.state.error_info}\n` );
            process.exit( 1 );
        }
    ).add(
        ( as ) => {
            // One call first: it opens the connection, which the callers
            // would otherwise all wait for (and trip Node's listener leak
            // warning).
            ccm.iface( 'bench' ).call( as, 'echo', { msg: PAYLOAD } );
        },
        ( as, err ) => {
            process.stderr.write( `refclient.js: first call: ${err}: ${as.state.error_info}\n` );
            process.exit( 1 );
        }
    ).add( ( _as ) => {
        phase( warmup_ms, () => {
            if ( errors > 0 ) {
                process.stderr.write( `refclient.js: warm-up: ${errors} errors, first: ${first_err}\n` );
                process.exit( 1 );
            }

            measuring = true;
            process.stdout.write( 'START\n' );
            const cpu0 = process.cpuUsage();
            const t0 = process.hrtime.bigint();

            phase( dur_ms, () => {
                const elapsed_us = Number( process.hrtime.bigint() - t0 ) / 1e3;
                const cpu = process.cpuUsage( cpu0 );
                const sorted = lat.subarray( 0, n ).sort();
                process.stdout.write( `DONE ${JSON.stringify( {
                    calls,
                    errors,
                    first_err,
                    elapsed_us,
                    p50_us: pct( sorted, 50 ),
                    p99_us: pct( sorted, 99 ),
                    cpu_us: cpu.user + cpu.system,
                } )}\n` );
            } );
        } );
    } ).execute();
}

main( process.argv.slice( process.argv[1] && process.argv[1].endsWith( '.js' ) ? 2 : 1 ) );
