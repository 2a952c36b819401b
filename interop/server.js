'use strict';

// ftnpipe interop peer: a FutoIn Executor built on the JavaScript reference
// implementation (futoin-executor + futoin-invoker + futoin-asyncsteps, versions
// pinned in package.json). The Go tests in this folder start it, read the
// "LISTEN 127.0.0.1:PORT" line from stdout and call it over HTTP and WebSocket.
//
// Usage: node server.js [PORT] [--no-stdin]
//   PORT        TCP port on 127.0.0.1 (default: INTEROP_PORT from the
//               environment, else 0 = any free port).
//   --no-stdin  Do not exit when stdin closes (for running it by hand
//               with stdin redirected from /dev/null).
//
// The process exits on SIGTERM, SIGINT and when stdin reaches end of file, so
// it never outlives the process that started it.
//
// One HTTP server carries both transports on the path /ftn:
//   http://127.0.0.1:PORT/ftn  (POST, coded message in the body)
//   ws://127.0.0.1:PORT/ftn
//
// Interfaces (specs in ./specs):
//   ftnpipe.test:1.0    AllowAnonymous: echo, add, fail, undeclared, sleep
//   ftnpipe.secure:1.0  authenticated users only: whoami, echo
//
// Users (clear-text "user:password" credentials, checked by the reference
// LegacySecurityProvider): tester / s3cr3t. The reference splits "sec" on ':'
// and treats exactly two parts as user and password, so a password must not
// contain ':'.

const http = require( 'http' );
const path = require( 'path' );

const $as = require( 'futoin-asyncsteps' );
const { AdvancedCCM } = require( 'futoin-invoker' );
const { NodeExecutor, LegacySecurityProvider } = require( 'futoin-executor' );

const HOST = '127.0.0.1';
const HTTP_PATH = '/ftn';
const SPEC_DIR = path.join( __dirname, 'specs' );

const USERS = [
    { user: 'tester', password: 's3cr3t', details: { FullName: 'Interop Tester' } },
];

// The executor cancels a request after reqTimeout ms (reference default 5 s).
// sleep() must be cut by the Go client's own timeout, never by the executor,
// so this is well above anything the tests ask for.
const REQ_TIMEOUT_MS = 60e3;

// sleep() refuses to wait longer than this, so a stray call cannot pin the
// process.
const MAX_SLEEP_MS = 30e3;

function parseArgs( argv ) {
    const out = { port: 0, watchStdin: true };
    const env_port = process.env.INTEROP_PORT;

    if ( env_port ) {
        out.port = parseInt( env_port, 10 );
    }

    for ( const a of argv ) {
        if ( a === '--no-stdin' ) {
            out.watchStdin = false;
        } else if ( /^[0-9]+$/.test( a ) ) {
            out.port = parseInt( a, 10 );
        } else {
            throw new Error( `unknown argument: ${a}` );
        }
    }

    if ( !( out.port >= 0 && out.port < 65536 ) ) {
        throw new Error( `invalid port: ${out.port}` );
    }

    return out;
}

// ftnpipe.test:1.0
const testImpl = {
    echo( as, reqinfo ) {
        return { msg: reqinfo.params().msg };
    },

    add( as, reqinfo ) {
        const { a, b } = reqinfo.params();
        return { sum: a + b };
    },

    fail( as, _reqinfo ) {
        as.error( 'MyError', 'fail() always fails' );
    },

    undeclared( as, _reqinfo ) {
        // Not listed in the function's "throws": the executor must not pass it on.
        as.error( 'NotDeclaredError', 'this error is not in throws' );
    },

    sleep( as, reqinfo ) {
        const ms = reqinfo.params().ms;

        if ( ms < 0 || ms > MAX_SLEEP_MS ) {
            as.error( 'InvalidRequest', `ms must be within 0..${MAX_SLEEP_MS}` );
        }

        as.add( ( as ) => {
            let timer = setTimeout( () => {
                timer = null;
                as.success( { slept: ms } );
            }, ms );

            // Runs when the executor cancels the request (its own timeout,
            // the client went away, or shutdown).
            as.setCancel( () => {
                if ( timer ) {
                    clearTimeout( timer );
                    timer = null;
                }
            } );
        } );
    },
};

// ftnpipe.secure:1.0
const secureImpl = {
    whoami( as, reqinfo ) {
        const info = reqinfo.info;
        const user = info.USER_INFO;

        if ( !user ) {
            // Cannot happen: the interface has no AllowAnonymous.
            as.error( 'SecurityError', 'no user' );
        }

        user.details( as );
        as.add( ( as, details ) => {
            as.success( {
                login: String( details.Login ),
                seclvl: String( info.SECURITY_LEVEL ),
            } );
        } );
    },

    echo( as, reqinfo ) {
        return { msg: reqinfo.params().msg };
    },
};

function main() {
    let opts;

    try {
        opts = parseArgs( process.argv.slice( 2 ) );
    } catch ( e ) {
        process.stderr.write( `server.js: ${e.message}\n` );
        process.exit( 2 );
    }

    const ccm = new AdvancedCCM( { specDirs: [ SPEC_DIR ] } );
    // The executor's CCM only calls the in-process #basicauth service; keep
    // its default limit zone out of the way anyway.
    ccm.limitZone( 'default', { concurrent: 0xFFFF, max_queue: 0xFFFF, rate: 0xFFFF } );

    const httpServer = http.createServer();
    let executor = null;
    let stopping = false;

    const stop = ( why, code = 0 ) => {
        if ( stopping ) {
            return;
        }

        stopping = true;
        process.stderr.write( `server.js: stopping (${why})\n` );

        // Hard limit: open keep-alive connections or pending requests must not
        // keep us alive.
        setTimeout( () => process.exit( code ), 1000 ).unref();

        const done = () => process.exit( code );

        try {
            if ( executor ) {
                executor.close( done );
            } else {
                httpServer.close( done );
            }

            ccm.close();
        } catch ( e ) {
            process.stderr.write( `server.js: close failed: ${e}\n` );
            process.exit( code || 1 );
        }
    };

    process.on( 'SIGTERM', () => stop( 'SIGTERM' ) );
    process.on( 'SIGINT', () => stop( 'SIGINT' ) );

    if ( opts.watchStdin ) {
        process.stdin.on( 'end', () => stop( 'stdin closed' ) );
        process.stdin.on( 'error', () => stop( 'stdin error' ) );
        process.stdin.resume();
    }

    // Paths outside HTTP_PATH: the executor ignores them when it does not own
    // the server, so answer them here instead of leaving them hanging.
    const prefix = HTTP_PATH + '/';
    const onPath = ( url ) => ( url + '/' ).startsWith( prefix );

    httpServer.on( 'request', ( req, rsp ) => {
        if ( !onPath( req.url ) ) {
            rsp.writeHead( 404, { 'Content-Type': 'text/plain' } );
            rsp.end( 'not found\n' );
        }
    } );
    httpServer.on( 'upgrade', ( req, sock ) => {
        if ( !onPath( req.url ) ) {
            sock.destroy();
        }
    } );

    $as()
        .add(
            ( as ) => {
                // Clear-text user:password checks through the reference's own
                // BasicAuth service (an in-process executor it creates).
                const secprov = new LegacySecurityProvider( as, ccm );

                for ( const u of USERS ) {
                    secprov.addUser( u.user, u.password, Object.assign( {}, u.details ) );
                }

                executor = new NodeExecutor( ccm, {
                    specDirs: [ SPEC_DIR ],
                    httpServer,
                    httpPath: HTTP_PATH,
                    securityProvider: secprov,
                    reqTimeout: REQ_TIMEOUT_MS,
                    // Permissive: the reference limiter is off unless enabled,
                    // and when it rejects it sends no reply at all.
                    enableLimiter: false,
                } );

                executor.on( 'notExpected', ( err, error_info ) => {
                    process.stderr.write(
                        `server.js: notExpected: ${err}: ${error_info}\n` );
                } );

                executor.register( as, 'ftnpipe.test:1.0', testImpl );
                executor.register( as, 'ftnpipe.secure:1.0', secureImpl );

                as.add( ( as ) => {
                    as.waitExternal();
                    httpServer.once( 'error', ( e ) => {
                        process.stderr.write( `server.js: listen failed: ${e.message}\n` );
                        process.exit( 1 );
                    } );
                    httpServer.listen( opts.port, HOST, () => {
                        const { address, port } = httpServer.address();
                        process.stdout.write( `LISTEN ${address}:${port}\n` );
                        as.success();
                    } );
                } );
            },
            ( as, err ) => {
                process.stderr.write(
                    `server.js: startup failed: ${err}: ${as.state.error_info}\n` );

                if ( as.state.last_exception ) {
                    process.stderr.write( `${as.state.last_exception.stack}\n` );
                }

                process.exit( 1 );
            }
        )
        .execute();
}

main();
