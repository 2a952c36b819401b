'use strict';

// ftnpipe interop client for raw data (FTN5): the reference SimpleCCM
// (futoin-invoker, version pinned in package.json) making raw upload and
// raw download calls to a given executor.
//
// Usage: node rawclient.js URL [CREDS]
//   URL    the executor's endpoint (http://… or ws://…)
//   CREDS  optional "user:password" credentials
//
// It registers ftnpipe.raw:1.0 as "raw" on a SimpleCCM (no specs: the
// caller's arguments decide what is raw) and makes the calls below, printing
// one JSON line per call: {"call":NAME,"r":RESULT} or
// {"call":NAME,"e":ERROR,"edesc":DESC}. A raw (Buffer) result prints as
// {"raw":TEXT}. It exits 0 whatever the calls gave, 1 if the registration
// failed, 2 on bad usage, 3 if not done within 20 s.

const $as = require( 'futoin-asyncsteps' );
const { SimpleCCM } = require( 'futoin-invoker' );

const DEADLINE_MS = 20e3;
const IFACE = 'ftnpipe.raw:1.0';

// [ name, function, params, upload ]
const CALLS = [
    [ 'upload', 'upload', { name: 'js', count: 41, meta: { x: 'y' } }, 'hello from js' ],
    [ 'upload-empty', 'upload', {}, '' ],
    [ 'download', 'download', { n: 1000 }, undefined ],
    [ 'upper', 'upper', {}, 'both ways' ],
    [ 'failRaw', 'failRaw', {}, undefined ],
];

function out( obj ) {
    process.stdout.write( JSON.stringify( obj ) + '\n' );
}

function main() {
    const [ url, creds ] = process.argv.slice( 2 );

    if ( !url ) {
        process.stderr.write( 'usage: node rawclient.js URL [CREDS]\n' );
        process.exit( 2 );
    }

    setTimeout( () => {
        process.stderr.write( `rawclient.js: not done within ${DEADLINE_MS} ms\n` );
        process.exit( 3 );
    }, DEADLINE_MS ).unref();

    const ccm = new SimpleCCM();
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
            ( as ) => ccm.register( as, 'raw', IFACE, url, creds || null ),
            ( as, err ) => {
                out( { call: 'register', e: err, edesc: String( as.state.error_info ) } );
                finish( 1 );
            }
        )
        .add( ( as ) => {
            const svc = ccm.iface( 'raw' );

            as.forEach( CALLS, ( as, _i, [ name, fn, p, upload ] ) => {
                as.add(
                    ( as ) => {
                        svc.call( as, fn, p, upload );
                        as.add( ( as, r ) => out( {
                            call: name,
                            r: Buffer.isBuffer( r ) ? { raw: r.toString( 'latin1' ) } : r,
                        } ) );
                    },
                    ( as, err ) => {
                        out( { call: name, e: err, edesc: String( as.state.error_info ) } );
                        as.success();
                    }
                );
            } );
        } )
        .add( ( _as ) => finish( 0 ) )
        .execute();
}

main();
