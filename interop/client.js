'use strict';

// ftnpipe interop client: the JavaScript reference invoker (futoin-invoker's
// AdvancedCCM, version pinned in package.json) making MAC-signed calls to a
// FutoIn executor. The Go tests in this folder run it against the ftnpipe
// executor (package executor); it works against server.js too.
//
// Usage: node client.js URL CREDS KEY ALGO
//   URL    endpoint, e.g. ws://127.0.0.1:PORT/ or http://127.0.0.1:PORT/
//   CREDS  "-hmac:USER" (legacy FTN6 HMAC: options hmacKey + hmacAlgo) or
//          "-smac:USER" (FTN8.1 stateless MAC: options macKey + macAlgo)
//   KEY    the MAC key, Base64
//   ALGO   MD5, SHA224, SHA256, SHA384, SHA512 for -hmac;
//          HMD5, HS256, HS384, HS512 for -smac
// Each argument may come from the environment instead (INTEROP_URL,
// INTEROP_CREDS, INTEROP_KEY, INTEROP_ALGO); arguments win. INTEROP_CODER
// (JSON, MPCK or CBOR) sets the reference's coder option (default JSON).
//
// It registers ftnpipe.mac:1.0 (specs/ftnpipe.mac-1.0-iface.json) and makes
// the calls in CALLS one after the other. With INTEROP_SUITE=checks it
// registers ftnpipe.check:1.0 instead, with the reference's prodMode (which
// skips its own request checks, so bad params reach the executor), and
// makes the calls in CHECK_CALLS. Either way it prints one JSON line per
// call on stdout:
//   {"call":"NAME","r":{...}}                       success
//   {"call":"NAME","e":"ErrorName","edesc":"..."}   failure (edesc may be absent)
// then exits 0, whatever the calls gave. Exit status 1: the registration
// failed (one line {"call":"register","e":...} is printed first); 2: bad
// usage; 3: it did not finish within DEADLINE_MS.
//
// MAC signing exists only in AdvancedCCM in the reference (SimpleCCM refuses
// MAC credentials). The reference invoker verifies the MAC of every reply and
// raises SecurityError "Missing response MAC: f()" or "Response MAC mismatch:
// f()" when it is wrong, except that an unsigned reply carrying a standard
// error (SecurityError, ...) is passed on as that error.

const path = require( 'path' );

const $as = require( 'futoin-asyncsteps' );
const { AdvancedCCM } = require( 'futoin-invoker' );

const SPEC_DIR = path.join( __dirname, 'specs' );
const IFACE = 'ftnpipe.mac:1.0';
const DEADLINE_MS = 20e3;

// The calls, in order. "name" labels the output line. The values exercise the
// MAC base (FTN8 §2.11.1) both ways: the request carries them and the reply
// brings them back signed.
const CALLS = [
    { name: 'whoami', fn: 'whoami', p: {} },
    // "note" is left out: the reference fills in its null default, which the
    // MAC base skips.
    { name: 'echo', fn: 'echo', p: { msg: 'hello, 世界; a:b' } },
    { name: 'echo-note', fn: 'echo', p: { msg: 'with a note', note: 'ñ' } },
    // JavaScript number text: 0.30000000000000004, 1e+21.
    { name: 'add', fn: 'add', p: { a: 0.1, b: 0.2 } },
    { name: 'add-big', fn: 'add', p: { a: 1e21, b: 1 } },
    {
        name: 'mirror',
        fn: 'mirror',
        p: {
            m: {
                b: true,
                a: 'x',
                Z: -1.5,
                'é': 'ü',
                big: 123456789012,
                tiny: 1e-7,
                nested: {
                    gone: null,
                    arr: [ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 ],
                    empty: {},
                    none: [],
                },
            },
            l: [ 's', 2, null, { x: 1 }, [], false ],
        },
    },
    // A declared error: the reply is signed like a result.
    { name: 'fail', fn: 'fail', p: {} },
];

// The calls of INTEROP_SUITE=checks (ftnpipe.check:1.0): the executor
// must check them against the definition, since prodMode turns the
// reference invoker's own request checks off.
const CHECK_CALLS = [
    { name: 'good', fn: 'add', p: { a: 1, b: 2 } },
    { name: 'badparam', fn: 'add', p: { a: 'x', b: 2 } },
    { name: 'missing', fn: 'add', p: { a: 1 } },
    { name: 'declared', fn: 'fail', p: { name: 'MyError' } },
    { name: 'undeclared', fn: 'fail', p: { name: 'OtherError' } },
];

function usage( msg ) {
    process.stderr.write( `client.js: ${msg}\n` +
        'usage: node client.js URL CREDS KEY ALGO (or INTEROP_URL, INTEROP_CREDS, INTEROP_KEY, INTEROP_ALGO)\n' );
    process.exit( 2 );
}

function parseArgs( argv ) {
    const env = process.env;
    const [
        url = env.INTEROP_URL,
        creds = env.INTEROP_CREDS,
        key = env.INTEROP_KEY,
        algo = env.INTEROP_ALGO,
        ...rest
    ] = argv;

    if ( rest.length ) {
        usage( 'too many arguments' );
    }

    if ( !url || !creds || !key || !algo ) {
        usage( 'URL, CREDS, KEY and ALGO are all needed' );
    }

    let options;

    if ( creds.startsWith( '-hmac:' ) ) {
        options = { hmacKey: key, hmacAlgo: algo };
    } else if ( creds.startsWith( '-smac:' ) ) {
        options = { macKey: key, macAlgo: algo };
    } else {
        usage( 'CREDS must be -hmac:USER or -smac:USER' );
    }

    if ( env.INTEROP_CODER ) {
        options.coder = env.INTEROP_CODER;
    }

    let iface = IFACE;
    let calls = CALLS;

    if ( env.INTEROP_SUITE === 'checks' ) {
        iface = 'ftnpipe.check:1.0';
        calls = CHECK_CALLS;
        options.prodMode = true;
    } else if ( env.INTEROP_SUITE && env.INTEROP_SUITE !== 'mac' ) {
        usage( 'INTEROP_SUITE must be mac or checks' );
    }

    return { url, creds, options, iface, calls };
}

function out( obj ) {
    // Pipes are synchronous for process.stdout on Linux and macOS.
    process.stdout.write( JSON.stringify( obj ) + '\n' );
}

function main() {
    const { url, creds, options, iface, calls } = parseArgs( process.argv.slice( 2 ) );

    setTimeout( () => {
        process.stderr.write( `client.js: not done within ${DEADLINE_MS} ms\n` );
        process.exit( 3 );
    }, DEADLINE_MS ).unref();

    const ccm = new AdvancedCCM( { specDirs: [ SPEC_DIR ] } );
    // The default limit zone rejects the 11th call within a second
    // (DefenseRejected).
    ccm.limitZone( 'default', { concurrent: 0xFFFF, max_queue: 0xFFFF, rate: 0xFFFF } );

    const finish = ( code ) => {
        try {
            ccm.close();
        } catch ( _ ) {
            // exiting anyway
        }

        process.exit( code );
    };

    $as()
        .add(
            ( as ) => {
                ccm.register( as, 'svc', iface, url, creds, options );
            },
            ( as, err ) => {
                const line = { call: 'register', e: err };

                if ( as.state.error_info ) {
                    line.edesc = String( as.state.error_info );
                }

                out( line );
                finish( 1 );
            }
        )
        .add( ( as ) => {
            const svc = ccm.iface( 'svc' );

            as.forEach( calls, ( as, _i, c ) => {
                as.add(
                    ( as ) => {
                        svc.call( as, c.fn, c.p );
                        as.add( ( as, r ) => out( { call: c.name, r } ) );
                    },
                    ( as, err ) => {
                        const line = { call: c.name, e: err };

                        if ( as.state.error_info ) {
                            line.edesc = String( as.state.error_info );
                        }

                        out( line );
                        as.success();
                    }
                );
            } );
        } )
        .add( ( _as ) => finish( 0 ) )
        .execute();
}

main();
