// Starts s3rver (pinned in package.json) on 127.0.0.1 at a free port, with the buckets named on the
// command line, storing into the folder given first; prints "PORT <n>" once it listens.
import S3rver from 's3rver';

const [directory, ...buckets] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: !process.env.REELAY_S3RVER_LOG,
  directory,
  serviceEndpoint: 'localhost',
  configureBuckets: buckets.map((name) => ({ name })),
});
const { port } = await server.run();
process.stdout.write(`PORT ${port}\n`);
