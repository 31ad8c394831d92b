// s3rver 3.7.1 overwrites an object in place: it truncates the object's file and writes into it, then rewrites its
// metadata file the same way. A GET racing a PUT of the same key then reads an empty or short body, or fails on
// half-written metadata. S3 and MinIO replace an object atomically, and the platform relies on that (a client may poll a
// report or a job record while a service rewrites it). Loaded with `node -r`, this makes the filesystem store do the
// same: every file of an object is written beside it and renamed over it, and a GET sizes the body from the file it
// opened rather than from a path that may have been replaced in between.
'use strict';
const crypto = require('crypto');
const path = require('path');
const { Transform } = require('stream');
const { pipeline } = require('stream/promises');
const s3rver = path.join(__dirname, 'node_modules', 's3rver', 'lib');
const fs = require(path.join(__dirname, 'node_modules', 'fs-extra'));
const { pick, pickBy } = require(path.join(__dirname, 'node_modules', 'lodash'));
const FilesystemStore = require(path.join(s3rver, 'stores', 'filesystem.js'));
const S3Object = require(path.join(s3rver, 'models', 'object.js'));

/** Writes `target` through a scratch file beside it, renamed over it once whole (rename is atomic on one filesystem). */
async function replaceFile(target, write) {
  const scratch = `${target}.${crypto.randomBytes(6).toString('hex')}.partial`;
  try {
    const result = await write(scratch);
    await fs.rename(scratch, target);
    return result;
  } catch (err) {
    await fs.remove(scratch).catch(() => {});
    throw err;
  }
}

FilesystemStore.prototype.putMetadata = async function (bucket, key, metadata, md5) {
  const json = {
    ...pick(metadata, S3Object.ALLOWED_METADATA),
    ...pickBy(metadata, (value, name) => name.startsWith('x-amz-meta-')),
  };
  if (md5) await replaceFile(this.getResourcePath(bucket, key, 'object.md5'), f => fs.writeFile(f, md5));
  await replaceFile(this.getResourcePath(bucket, key, 'metadata.json'), f => fs.writeFile(f, JSON.stringify(json, null, 2)));
};

FilesystemStore.prototype.putObject = async function (object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await fs.mkdirp(path.dirname(objectPath));
  const scratch = `${objectPath}.${crypto.randomBytes(6).toString('hex')}.partial`;
  try {
    const md5Context = crypto.createHash('md5');
    let size = 0;
    const counting = new Transform({
      transform(chunk, encoding, callback) {
        md5Context.update(chunk, encoding);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    const source = Buffer.isBuffer(object.content) ? [object.content] : object.content;
    await pipeline(source, counting, fs.createWriteStream(scratch));
    const md5 = md5Context.digest('hex');
    // The metadata first, the body last: the new body is never served with the old object's length.
    await this.putMetadata(object.bucket, object.key, object.metadata, md5);
    await fs.rename(scratch, objectPath);
    return { size, md5 };
  } catch (err) {
    await fs.remove(scratch).catch(() => {});
    throw err;
  }
};

const getMetadata = FilesystemStore.prototype.getMetadata;
FilesystemStore.prototype.getObject = async function (bucket, key, options) {
  let handle;
  try {
    // Open first: the length, modification time and bytes served all come from this one file, whatever replaces it.
    handle = await fs.promises.open(this.getResourcePath(bucket, key, 'object'), 'r');
    const stat = await handle.stat();
    const metadata = {
      ...(await getMetadata.call(this, bucket, key)),
      'last-modified': stat.mtime.toUTCString(),
      'content-length': stat.size,
    };
    const lastByte = Math.max(0, stat.size - 1);
    const range = {
      start: (options && options.start) || 0,
      end: Math.min((options && options.end) || Infinity, lastByte),
    };
    const ranged = options && (options.start !== undefined || options.end);
    let content = null;
    if (!(range.start < 0 || range.end < range.start)) {
      content = handle.createReadStream({ start: range.start, end: range.end, autoClose: true });
      handle = undefined; // the stream closes it
    }
    const result = new S3Object(bucket, key, content, metadata);
    if (ranged) result.range = range;
    return result;
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  } finally {
    if (handle) await handle.close();
  }
};
