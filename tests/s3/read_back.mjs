// Reads an object back with AWS's official S3 client (pinned in package.json), through the signing
// proxy, and prints "<size> <sha256>" of its body: proof that what reelay wrote is an ordinary S3 object.
// Usage: node read_back.mjs ENDPOINT REGION ACCESS_KEY SECRET BUCKET KEY
import { createHash } from 'node:crypto';
import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';

const [endpoint, region, accessKeyId, secretAccessKey, bucket, key] = process.argv.slice(2);
const client = new S3Client({
  endpoint,
  region,
  forcePathStyle: true,
  credentials: { accessKeyId, secretAccessKey },
});
const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
const bytes = await answer.Body.transformToByteArray();
const sha = createHash('sha256').update(bytes).digest('hex');
process.stdout.write(`${bytes.length} ${sha}\n`);
